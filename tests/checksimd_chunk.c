/* (being written) */
typedef int resa_placeholder_chunk;
int main(void) { return 77; }
