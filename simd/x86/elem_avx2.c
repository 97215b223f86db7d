/* (being written) */
typedef int resa_placeholder_elem;
