#ifndef RESA_CLI_EVAL_H
#define RESA_CLI_EVAL_H
#endif
