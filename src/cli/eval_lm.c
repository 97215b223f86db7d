/* (being written) */
typedef int resa_placeholder_eval_lm;
