/* session.h - sessions, the append-only universal event log, live
 * subscribers, and pending questions and permissions.
 *
 * Every event, from an agent or from the daemon, goes through
 * sess_record(), which applies the recording pipeline of spec 6.1
 * (native id adoption, pending-assistant re-targeting, item ids,
 * synthetic starts and deltas, suppression, HITL bookkeeping), serializes
 * the event once, appends it and wakes subscribers. Sequences start at 1
 * and have no gaps: suppressed events never consume a sequence.
 * Depends on base/, json/, http/sse.h; never on the server or adapters. */
#ifndef SESSION_SESSION_H
#define SESSION_SESSION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"

#define SESS_LOG_MAX (64u * 1024 * 1024) /* serialized bytes kept per session */
#define SESS_MAX_SESSIONS 100000
#define SESS_ID_MAX 256                   /* session id length */
#define SESS_QUEUE_MAX 64                 /* messages queued behind a running turn */

typedef enum {
	EV_SESSION_STARTED = 0,
	EV_SESSION_ENDED,
	EV_TURN_STARTED,
	EV_TURN_ENDED,
	EV_ITEM_STARTED,
	EV_ITEM_DELTA,
	EV_ITEM_COMPLETED,
	EV_ERROR,
	EV_PERMISSION_REQUESTED,
	EV_PERMISSION_RESOLVED,
	EV_QUESTION_REQUESTED,
	EV_QUESTION_RESOLVED,
	EV_AGENT_UNPARSED,
	EV__COUNT
} ev_type;

const char *ev_type_name(ev_type t);

/* A conversion: one event as an adapter or the daemon produces it. All
 * strings are borrowed for the duration of sess_record(). *_json fields
 * hold serialized JSON values (NULL writes null or omits, per type). */
typedef struct {
	ev_type type;
	bool synthetic;
	const char *native_session_id; /* adopted if the session has none */
	const char *raw_json;          /* native payload, or NULL */
	size_t raw_len;
	union {
		struct { /* session.started */
			const char *metadata_json;
		} started;
		struct { /* session.ended */
			const char *reason;        /* completed | error | terminated */
			const char *terminated_by; /* agent | daemon */
			const char *message;       /* only with reason error */
			bool has_exit_code;
			int exit_code;
			const char *stderr_json; /* StderrOutput object */
		} ended;
		struct { /* turn.started / turn.ended */
			const char *turn_id;
			const char *metadata_json;
		} turn;
		struct { /* item.started / item.completed */
			const char *item_id;        /* NULL or "": assigned */
			const char *native_item_id;
			const char *parent_id;
			const char *kind;    /* message|tool_call|tool_result|system|status|unknown */
			const char *role;    /* user|assistant|system|tool or NULL */
			const char *content_json; /* array of content parts */
			const char *status;  /* in_progress|completed|failed */
		} item;
		struct { /* item.delta */
			const char *item_id;
			const char *native_item_id;
			const char *delta;
			size_t delta_len;
		} delta;
		struct { /* error */
			const char *message;
			const char *code;
			const char *details_json;
		} error;
		struct { /* permission.requested / resolved */
			const char *id;
			const char *action;
			const char *status; /* requested|accept|accept_for_session|reject */
			const char *metadata_json;
		} perm;
		struct { /* question.requested / resolved */
			const char *id;
			const char *prompt;
			const char *options_json; /* array of strings */
			const char *response;
			const char *status; /* requested|answered|rejected */
		} question;
		struct { /* agent.unparsed */
			const char *error;
			const char *location;
		} unparsed;
	} u;
} ev_conv;

/* One stored event: bytes in the session's log buffer. */
typedef struct {
	uint32_t off;     /* serialized event without its closing "raw" value */
	uint32_t len;
	uint32_t raw_len; /* raw JSON follows the event bytes; 0 = null */
	uint8_t type;
} ev_rec;

typedef struct pending_perm {
	char *id;
	char *action;
	char *metadata_json; /* or NULL */
	bool hidden;         /* question-tool permissions are never shown */
	bool question_tool;
} pending_perm;

typedef struct pending_question {
	char *id;
	char *prompt;
	char *options_json;
} pending_question;

typedef struct sess_sub sess_sub;
typedef struct agent_ops agent_ops;

typedef struct queued_msg {
	char *text;
	size_t len;
	char *attachments_json; /* array, or NULL */
	sess_sub *waiting_sub;  /* a turn stream waiting for this message */
	struct queued_msg *next;
} queued_msg;

typedef struct session {
	char *id;
	const agent_ops *agent;
	char *agent_mode;
	char *permission_mode;
	char *model;
	char *variant;
	char *directory; /* working directory of the agent */
	char *title;
	char *mcp_json;    /* normalized echo, or NULL */
	char *skills_json; /* echo, or NULL */
	char *native_id;
	int64_t created_ms;
	int64_t updated_ms;

	bool ended;
	bool ended_by_daemon;
	bool log_full;
	const char *end_reason;
	bool has_exit_code;
	int exit_code;
	char *end_message;

	/* the log */
	buf_t log;
	ev_rec *ev;
	size_t nev, cap_ev;

	/* item bookkeeping */
	uint64_t next_item;
	struct sess_map *items; /* native id -> item id, started/delta flags */
	char **pending_asst;    /* FIFO of placeholder native ids */
	size_t npending_asst;
	uint64_t pending_asst_counter;

	/* human in the loop */
	pending_perm *perms;
	size_t nperms;
	pending_question *questions;
	size_t nquestions;
	char **allow_keys;
	size_t nallow;

	/* turns */
	bool busy;
	queued_msg *queue, *queue_tail;
	size_t nqueued;
	uint64_t message_counter;

	sess_sub *subs;
	void *agent_state; /* owned by the adapter */
	struct session *next_all;
} session;

/* Lookup and lifecycle. */
session *sess_find(const char *id);
session *sess_first(void); /* newest first, then s->next_all */
size_t sess_count(void);
session *sess_new(const char *id, const agent_ops *agent); /* not yet registered */
void sess_register(session *s);
/* Ends the session: records session.ended and marks it. */
void sess_end(session *s, const char *reason, const char *by, const char *message,
		bool has_code, int code, const char *stderr_json);
/* Called by the server on shutdown; returns true while agents still run. */
bool sess_shutdown_all(void *ud);
void sess_free_all(void);

/* Records one event through the pipeline. Returns the sequence stored,
 * or 0 if the event was dropped (suppressed or deduplicated). */
uint64_t sess_record(session *s, const ev_conv *c);
/* Convenience for daemon-made events. */
uint64_t sess_record_simple(session *s, ev_type t, bool synthetic);
uint64_t sess_record_error(session *s, bool synthetic, const char *message,
		const char *code, const char *details_json);
uint64_t sess_record_unparsed(session *s, const char *error, const char *location,
		const char *raw, size_t raw_len);
/* Serializes event i (0-based) into b; with_raw includes the raw payload. */
void sess_write_event(const session *s, size_t i, bool with_raw, buf_t *b);
/* Index of the first event with sequence > offset. */
size_t sess_index_after(const session *s, uint64_t offset);

/* Item ids: a fresh "itm_<n>". */
void sess_new_item_id(session *s, char out[32]);
/* Pending-assistant placeholders (agents without native item starts). */
const char *sess_push_pending_assistant(session *s);

/* HITL registries. */
pending_perm *sess_find_perm(session *s, const char *id);
pending_question *sess_find_question(session *s, const char *id);
void sess_take_perm(session *s, pending_perm *p, pending_perm *out);     /* removes; caller frees out */
void sess_put_perm(session *s, const pending_perm *p);                    /* re-adds (failed forward) */
void sess_take_question(session *s, pending_question *q, pending_question *out);
void sess_put_question(session *s, const pending_question *q);
void sess_free_perm(pending_perm *p);
void sess_free_question(pending_question *q);
/* "always": remember the permission's keys (spec 7.4). */
void sess_allow_always(session *s, const pending_perm *p);

/* Turn bookkeeping for queued messages: the adapter calls sess_turn_done
 * when its turn is over; the next queued message is then dispatched. */
void sess_turn_done(session *s);

/* Subscribers (SSE readers). */
typedef struct sess_sub_ops {
	/* Writes bytes for the subscriber; returns false when its buffer is
	 * full (pumping resumes on sess_sub_pump). */
	bool (*room)(void *ud);
	void (*write)(void *ud, const char *p, size_t n);
	void (*flush)(void *ud);
	void (*finish)(void *ud); /* terminal event written (turn streams) */
} sess_sub_ops;

struct sess_sub {
	session *s;
	size_t next; /* index of the next event to send */
	bool include_raw;
	bool turn_stream; /* ends after its first terminal event */
	bool waiting;     /* queued message not dispatched yet */
	bool done;
	bool dirty;    /* queued for the next flush */
	bool flushing; /* being flushed right now */
	const sess_sub_ops *ops;
	void *ud;
	sess_sub *next_sub;
};

sess_sub *sess_subscribe(session *s, size_t from_index, bool include_raw, bool turn_stream,
		const sess_sub_ops *ops, void *ud);
void sess_unsubscribe(sess_sub *sub);
void sess_sub_pump(sess_sub *sub);
/* Flushes every subscriber written to since the last call (run once per
 * loop iteration, so one syscall carries many events). */
void sess_flush_subscribers(void);

#endif
