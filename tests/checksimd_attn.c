/* (being written) */
typedef int resa_placeholder_attn;
int main(void) { return 77; }
