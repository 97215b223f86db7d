/* SPDX-License-Identifier: MIT */
/* resa serve: the JSON bodies of responses (OpenAI's shapes). Each returns
 * a malloc'ed NUL-terminated string, or NULL when out of memory. */
#ifndef RESA_SERVE_RESPONSE_H
#define RESA_SERVE_RESPONSE_H

#include "serve.h"

char *resp_error(const serve_error *e);
char *resp_models(const serve_server *srv);
/* The whole completion of a finished job (non-streaming). */
char *resp_completion(const serve_server *srv, const serve_job *j, const char *id, long created);
/* One streamed chunk: text (n bytes) and tokens [tok0, tok1) of j, the
 * assistant role when first, finish (or NULL) when it is the last. */
char *resp_chunk(const serve_server *srv, const serve_job *j, const char *id, long created, const char *text,
                 size_t n, int tok0, int tok1, int first, const char *finish);
/* The usage-only chunk streamed when stream_options.include_usage is set. */
char *resp_usage_chunk(const serve_server *srv, const serve_job *j, const char *id, long created);

#endif
