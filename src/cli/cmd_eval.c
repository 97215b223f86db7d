/* (being written) */
typedef int resa_placeholder_cmd_eval;
