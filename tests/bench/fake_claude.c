/* fake_claude.c - the benchmark's stand-in `claude`, in C so that the
 * writer is not what limits the measured rate. Same protocol and
 * workloads as fake_claude.py (which documents them): per `user` line on
 * stdin, an init line, K text deltas stamped "@<CLOCK_MONOTONIC ns>@",
 * the closing stream events, an assistant message and a result line.
 * Built by tests/bench/bench.py; depends on libc only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAKE_LINE_MAX (1 << 20) /* longest stdin line handled */
#define SID "bench0000-0000-4000-8000-000000000001"

static int put(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(1, s, n);
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int puts1(const char *s) { return put(s, strlen(s)); }

static unsigned long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int turn(long k, long interval_us)
{
	char line[512];
	if (puts1("{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"/\",\"session_id\":\"" SID
			"\",\"tools\":[],\"mcp_servers\":[],\"model\":\"fake\"}\n") ||
			puts1("{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":"
			"{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"fake\","
			"\"content\":[],\"stop_reason\":null}},\"session_id\":\"" SID "\"}\n") ||
			puts1("{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\","
			"\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}},\"session_id\":\""
			SID "\"}\n"))
		return -1;
	for (long i = 0; i < k; i++) {
		int n = snprintf(line, sizeof line,
			"{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
			"\"delta\":{\"type\":\"text_delta\",\"text\":\"@%llu@ delta %ld\"}},\"session_id\":\""
			SID "\",\"parent_tool_use_id\":null,\"uuid\":\"00000000-0000-4000-8000-%012ld\"}\n",
			mono_ns(), i, i);
		if (put(line, (size_t)n))
			return -1;
		if (interval_us > 0) {
			struct timespec ts = {interval_us / 1000000, (interval_us % 1000000) * 1000};
			nanosleep(&ts, NULL);
		}
	}
	snprintf(line, sizeof line,
		"{\"type\":\"assistant\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\","
		"\"role\":\"assistant\",\"model\":\"fake\",\"content\":[{\"type\":\"text\",\"text\":"
		"\"%ld deltas\"}],\"stop_reason\":null},\"parent_tool_use_id\":null,\"session_id\":\""
		SID "\"}\n", k);
	if (puts1(line) ||
			puts1("{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_stop\","
			"\"index\":0},\"session_id\":\"" SID "\"}\n") ||
			puts1("{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":"
			"{\"stop_reason\":\"end_turn\"}},\"session_id\":\"" SID "\"}\n") ||
			puts1("{\"type\":\"stream_event\",\"event\":{\"type\":\"message_stop\"},"
			"\"session_id\":\"" SID "\"}\n"))
		return -1;
	snprintf(line, sizeof line,
		"{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1,"
		"\"result\":\"%ld deltas\",\"stop_reason\":\"end_turn\",\"session_id\":\"" SID "\"}\n",
		k);
	return puts1(line);
}

int main(void)
{
	char *line = malloc(FAKE_LINE_MAX);
	if (!line)
		return 1;
	while (fgets(line, FAKE_LINE_MAX, stdin)) {
		if (!strstr(line, "\"type\":\"user\""))
			continue;
		/* The workload is the text of the message's text block. */
		const char *t = strstr(line, "\"text\":\"");
		if (!t)
			continue;
		t += 8;
		long k = 10, us = 0;
		if (!strncmp(t, "burst ", 6))
			k = strtol(t + 6, NULL, 10);
		else if (!strncmp(t, "paced ", 6)) {
			char *end;
			k = strtol(t + 6, &end, 10);
			us = strtol(end, NULL, 10);
		}
		if (turn(k, us))
			break;
	}
	free(line);
	return 0;
}
