/* (being written) */
typedef int resa_placeholder_elem;
int main(void) { return 77; }
