"""test_core.py - the server core over HTTP: top-level routes, health,
405s, problem+json errors, body/query extraction errors, token auth, CORS
and HTTP/1.1 connection mechanics (keep-alive, pipelining, HTTP/1.0,
chunked request bodies, 100-continue). Spec: api-v1.md sections 1, 2, 4.1."""

import json
import time
import unittest

from harness import (SERVER_INFO, TOKEN_INVALID, ServerTestCase, basic,
                     parse_raw_response, unique_id)


def req(method, path, headers=(), body=b"", version="1.1", host=True):
    """Raw request bytes. headers: sequence of (name, value) pairs."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["%s %s HTTP/%s" % (method, path, version)]
    if host:
        lines.append("Host: 127.0.0.1")
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_req(path, obj, extra=()):
    body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
    return req("POST", path, [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))] + list(extra), body)


def chunked(body, sizes):
    """body split into chunks of the given sizes (the rest in one), as a
    chunked transfer-coding with its terminating zero chunk."""
    out, i = b"", 0
    for n in sizes:
        piece = body[i:i + n]
        i += n
        if piece:
            out += b"%x\r\n%s\r\n" % (len(piece), piece)
    if i < len(body):
        out += b"%x\r\n%s\r\n" % (len(body) - i, body[i:])
    return out + b"0\r\n\r\n"


def allow_set(headers):
    return {m.strip().upper() for m in headers.get("allow", "").split(",") if m.strip()}


# ====================================================================== routes

class TestRoutes(ServerTestCase):

    def test_health_get(self):
        st, h, body = self.s.request("GET", "/v1/health")
        self.assertEqual(st, 200)
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)
        self.assertEqual(body, b'{"status":"ok"}')

    def test_health_ignores_unknown_query(self):
        st, h, body = self.s.request("GET", "/v1/health?x=1&y")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_health_head_has_length_but_no_body(self):
        data = self.s.raw(req("HEAD", "/v1/health", [("Connection", "close")]))
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])
        head, sep, rest = data.partition(b"\r\n\r\n")
        self.assertEqual(sep, b"\r\n\r\n", data)
        self.assertEqual(rest, b"", "HEAD response carried body bytes: %r" % rest)
        hdrs = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip()
                for l in head.split(b"\r\n")[1:] if b":" in l}
        self.assertIn(b"content-length", hdrs, head)
        self.assertEqual(hdrs[b"content-length"], str(len(b'{"status":"ok"}')).encode())

    def test_head_then_next_request_on_same_connection(self):
        with self.s.conn() as c:
            c.send(req("HEAD", "/v1/health") + req("GET", "/v1/health"))
            r1 = c.read_response(head=True)
            r2 = c.read_response()
        self.assertEqual(r1.status, 200)
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.body, b'{"status":"ok"}')

    def test_head_root(self):
        with self.s.conn() as c:
            c.send(req("HEAD", "/") + req("GET", "/v1/health"))
            r1 = c.read_response(head=True)
            r2 = c.read_response()
        self.assertEqual(r1.status, 200)
        self.assertEqual(r1.headers.get("content-length"), str(len(SERVER_INFO.encode())))
        self.assertEqual(r2.body, b'{"status":"ok"}')

    def test_bad_percent_encoding_in_path(self):
        for path in ("/v1/sessions/%zz/events", "/v1/sessions/%/events", "/v1/sessions/a%00b/events"):
            st, h, body = self.s.request("GET", path)
            self.assertIn(st, (400, 404), "%s -> %d %r" % (path, st, body[:200]))

    def test_root_server_info(self):
        st, h, body = self.s.request("GET", "/")
        self.assertEqual(st, 200)
        self.assertEqual(h.get("content-type"), "text/plain; charset=utf-8")
        self.assertEqual(body.decode(), SERVER_INFO)

    def test_unknown_path_404_text(self):
        st, h, body = self.s.request("GET", "/no/such/path")
        self.assertEqual(st, 404)
        self.assertEqual(h.get("content-type"), "text/plain; charset=utf-8")
        self.assertEqual(body.decode(), "404 Not Found\n\n" + SERVER_INFO)

    def test_unknown_path_404_any_method(self):
        st, h, body = self.s.request("POST", "/nothing-here", body=b"{}",
                                     headers={"Content-Type": "application/json"})
        self.assertEqual(st, 404)
        self.assertEqual(body.decode(), "404 Not Found\n\n" + SERVER_INFO)

    def test_unknown_v1_path_404(self):
        st, h, body = self.s.request("GET", "/v1/nope")
        self.assertEqual(st, 404)
        self.assertEqual(body.decode(), "404 Not Found\n\n" + SERVER_INFO)

    def test_trailing_slash_is_a_different_path(self):
        st, h, body = self.s.request("GET", "/v1/health/")
        self.assertEqual(st, 404)

    def test_405_delete_health(self):
        st, h, body = self.s.request("DELETE", "/v1/health")
        self.assertEqual(st, 405)
        self.assertIn("GET", allow_set(h), "Allow header: %r" % h.get("allow"))
        self.assertNotIn("DELETE", allow_set(h))

    def test_405_get_on_create_session(self):
        st, h, body = self.s.request("GET", "/v1/sessions/abc")
        self.assertEqual(st, 405)
        self.assertIn("POST", allow_set(h), "Allow header: %r" % h.get("allow"))
        self.assertNotIn("GET", allow_set(h))

    def test_405_post_on_agents_list(self):
        st, h, body = self.s.request("POST", "/v1/agents", body=b"{}",
                                     headers={"Content-Type": "application/json"})
        self.assertEqual(st, 405)
        self.assertIn("GET", allow_set(h), "Allow header: %r" % h.get("allow"))

    def test_405_get_on_messages(self):
        st, h, body = self.s.request("GET", "/v1/sessions/abc/messages")
        self.assertEqual(st, 405)
        self.assertIn("POST", allow_set(h), "Allow header: %r" % h.get("allow"))

    def test_agents_list_without_token_configured(self):
        st, body, h = self.s.json("GET", "/v1/agents")
        self.assertEqual(st, 200)
        ids = sorted(a["id"] for a in body["agents"])
        self.assertEqual(ids, ["amp", "claude", "codex", "mock", "opencode"])

    def test_auth_disabled_ignores_authorization(self):
        st, body, h = self.s.json("GET", "/v1/agents", headers={"Authorization": "Bearer whatever"})
        self.assertEqual(st, 200)


# ====================================================================== errors

class TestErrors(ServerTestCase):

    def create(self, sid=None, obj=None, headers=None):
        sid = sid or unique_id()
        return sid, self.s.json("POST", "/v1/sessions/" + sid,
                                {"agent": "mock"} if obj is None else obj, headers=headers)

    def test_session_not_found_problem(self):
        st, body, h = self.s.json("GET", "/v1/sessions/nope-123/events")
        self.assertProblem(st, body, h, 404, "session_not_found")
        self.assertEqual(body["title"], "Session Not Found")
        self.assertEqual(body["detail"], "session not found: nope-123")
        self.assertEqual(body.get("sessionId"), "nope-123")
        self.assertNotIn("instance", body)

    def test_unsupported_agent_problem(self):
        sid, (st, body, h) = self.create(obj={"agent": "nope"})
        self.assertProblem(st, body, h, 400, "unsupported_agent")
        self.assertEqual(body["title"], "Unsupported Agent")
        self.assertEqual(body["detail"], "unsupported agent: nope")
        self.assertEqual(body.get("agent"), "nope")

    def test_create_session_ok(self):
        sid, (st, body, h) = self.create()
        self.assertEqual(st, 200, body)
        self.assertTrue(h.get("content-type", "").startswith("application/json"))
        self.assertEqual(body.get("healthy"), True)
        self.assertEqual(body.get("nativeSessionId"), "mock-" + sid)

    def test_session_already_exists_problem(self):
        sid, (st, body, h) = self.create()
        self.assertEqual(st, 200, body)
        st, body, h = self.s.json("POST", "/v1/sessions/" + sid, {"agent": "mock"})
        self.assertProblem(st, body, h, 409, "session_already_exists")
        self.assertEqual(body["detail"], "session already exists: " + sid)
        self.assertEqual(body.get("sessionId"), sid)

    def test_percent_decoded_path_param(self):
        st, body, h = self.s.json("GET", "/v1/sessions/a%20b%2Bc/events")
        self.assertProblem(st, body, h, 404, "session_not_found")
        self.assertEqual(body.get("sessionId"), "a b+c")

    def test_invalid_json_400(self):
        st, h, body = self.s.request("POST", "/v1/sessions/" + unique_id(), body=b'{"agent":',
                                     headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400, body)

    def test_trailing_garbage_json_400(self):
        st, h, body = self.s.request("POST", "/v1/sessions/" + unique_id(),
                                     body=b'{"agent":"mock"} x',
                                     headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400, body)

    def test_missing_content_type_415(self):
        st, h, body = self.s.request("POST", "/v1/sessions/" + unique_id(), body=b'{"agent":"mock"}')
        self.assertEqual(st, 415, body)

    def test_wrong_content_type_415(self):
        st, h, body = self.s.request("POST", "/v1/sessions/" + unique_id(), body=b'{"agent":"mock"}',
                                     headers={"Content-Type": "text/plain"})
        self.assertEqual(st, 415, body)

    def test_content_type_with_params_accepted(self):
        sid, (st, body, h) = self.create(headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(st, 200, body)

    def test_content_type_plus_json_accepted(self):
        sid, (st, body, h) = self.create(headers={"Content-Type": "application/vnd.test+json"})
        self.assertEqual(st, 200, body)

    def test_wrong_shape_422(self):
        sid, (st, body, h) = self.create(obj={"agent": 5})
        self.assertEqual(st, 422, body)

    def test_missing_required_field_422(self):
        sid, (st, body, h) = self.create(obj={"title": "x"})
        self.assertEqual(st, 422, body)

    def test_array_instead_of_object_422(self):
        sid, (st, body, h) = self.create(obj=["mock"])
        self.assertEqual(st, 422, body)

    def test_unknown_fields_ignored(self):
        sid, (st, body, h) = self.create(obj={"agent": "mock", "whatever": {"a": [1, 2]}})
        self.assertEqual(st, 200, body)

    def test_bad_body_reported_before_unknown_session(self):
        st, h, body = self.s.request("POST", "/v1/sessions/%s/messages" % unique_id(), body=b"{",
                                     headers={"Content-Type": "application/json"})
        self.assertEqual(st, 400, body)

    def test_bad_query_offset_400(self):
        sid, (st, body, h) = self.create()
        self.assertEqual(st, 200, body)
        st, h, body = self.s.request("GET", "/v1/sessions/%s/events?offset=abc" % sid)
        self.assertEqual(st, 400, body)

    def test_bad_query_negative_offset_400(self):
        sid, (st, body, h) = self.create()
        self.assertEqual(st, 200, body)
        st, h, body = self.s.request("GET", "/v1/sessions/%s/events?offset=-1" % sid)
        self.assertEqual(st, 400, body)

    def test_bad_query_bool_400(self):
        sid, (st, body, h) = self.create()
        self.assertEqual(st, 200, body)
        st, h, body = self.s.request("GET", "/v1/sessions/%s/events?includeRaw=yes" % sid)
        self.assertEqual(st, 400, body)

    def test_good_query_200(self):
        sid, (st, body, h) = self.create()
        self.assertEqual(st, 200, body)
        st, body, h = self.s.json("GET", "/v1/sessions/%s/events?offset=0&limit=10&include_raw=false&zzz=1" % sid)
        self.assertEqual(st, 200, body)
        self.assertIsInstance(body.get("events"), list)
        self.assertEqual(body["events"][0]["type"], "session.started")


# ====================================================================== auth

class TestAuth(ServerTestCase):
    server_args = ["--token", "secret"]

    def agents(self, auth=None):
        headers = {} if auth is None else {"Authorization": auth}
        return self.s.json("GET", "/v1/agents", headers=headers)

    def assert401(self, auth):
        st, body, h = self.agents(auth)
        self.assertEqual(st, 401, "Authorization %r: %r" % (auth, body))
        self.assertEqual(body, TOKEN_INVALID)
        ct = h.get("content-type", "")
        self.assertTrue(ct.startswith("application/json") or ct.startswith("application/problem+json"), ct)

    def assert200(self, auth):
        st, body, h = self.agents(auth)
        self.assertEqual(st, 200, "Authorization %r: %r" % (auth, body))
        self.assertIn("mock", [a["id"] for a in body["agents"]])

    def test_health_public_without_token(self):
        st, body, h = self.s.json("GET", "/v1/health")
        self.assertEqual((st, body), (200, {"status": "ok"}))

    def test_health_public_with_wrong_token(self):
        st, body, h = self.s.json("GET", "/v1/health", headers={"Authorization": "Bearer wrong"})
        self.assertEqual((st, body), (200, {"status": "ok"}))

    def test_health_with_right_token(self):
        st, body, h = self.s.json("GET", "/v1/health", headers={"Authorization": "Bearer secret"})
        self.assertEqual((st, body), (200, {"status": "ok"}))

    def test_health_path_bypasses_auth_for_any_method(self):
        st, h, body = self.s.request("DELETE", "/v1/health")
        self.assertEqual(st, 405)

    def test_missing_token_401_exact_body(self):
        self.assert401(None)

    def test_wrong_bearer_401(self):
        self.assert401("Bearer wrong-token")

    def test_right_bearer_200(self):
        st, body, h = self.agents("Bearer secret")
        self.assertEqual(st, 200, body)
        ids = sorted(a["id"] for a in body["agents"])
        self.assertEqual(ids, ["amp", "claude", "codex", "mock", "opencode"])

    def test_token_scheme(self):
        self.assert200("Token secret")

    def test_scheme_case_insensitive(self):
        self.assert200("bearer secret")
        self.assert200("BEARER secret")
        self.assert200("tOkEn secret")

    def test_value_whitespace_trimmed(self):
        self.assert200("Bearer    secret   ")

    def test_no_space_after_scheme_fails(self):
        self.assert401("Bearersecret")

    def test_scheme_only_fails(self):
        self.assert401("Bearer")

    def test_token_prefix_and_suffix_fail(self):
        self.assert401("Bearer secre")
        self.assert401("Bearer secret2")
        self.assert401("Bearer SECRET")

    def test_bare_token_fails(self):
        self.assert401("secret")

    def test_unknown_scheme_fails(self):
        self.assert401("Digest secret")

    def test_basic_user_password(self):
        self.assert200("Basic " + basic("user:secret"))

    def test_basic_password_only_after_first_colon(self):
        self.assert401("Basic " + basic("user:secret:extra"))
        self.assert200("Basic " + basic(":secret"))

    def test_basic_without_colon(self):
        self.assert200("Basic " + basic("secret"))

    def test_basic_no_padding(self):
        enc = basic("user:secret", pad=False)
        self.assertNotIn("=", enc)
        self.assert200("Basic " + enc)

    def test_basic_urlsafe_no_padding(self):
        # "~~~" encodes to "fn5+" in standard base64: the url-safe form has '-'
        enc = basic("~~~:secret", urlsafe=True, pad=False)
        self.assertIn("-", enc)
        self.assert200("Basic " + enc)

    def test_basic_urlsafe_padded(self):
        enc = basic("~~~:secret", urlsafe=True, pad=True)
        self.assertIn("-", enc)
        self.assertIn("=", enc)
        self.assert200("Basic " + enc)

    def test_basic_standard_with_plus(self):
        enc = basic("~~~:secret")
        self.assertIn("+", enc)
        self.assert200("Basic " + enc)

    def test_basic_wrong_password(self):
        self.assert401("Basic " + basic("user:wrong"))

    def test_basic_invalid_base64(self):
        self.assert401("Basic !!!not base64!!!")

    def test_other_v1_routes_need_token(self):
        st, body, h = self.s.json("GET", "/v1/sessions")
        self.assertEqual((st, body), (401, TOKEN_INVALID))
        st, body, h = self.s.json("GET", "/v1/agents/mock/modes")
        self.assertEqual((st, body), (401, TOKEN_INVALID))

    def test_auth_checked_before_body(self):
        st, h, body = self.s.request("POST", "/v1/sessions/" + unique_id(), body=b"{not json",
                                     headers={"Content-Type": "application/json"})
        self.assertEqual(st, 401, body)
        self.assertEqual(json.loads(body), TOKEN_INVALID)

    def test_authorized_create_session(self):
        st, body, h = self.s.json("POST", "/v1/sessions/" + unique_id(), {"agent": "mock"},
                                  headers={"Authorization": "Bearer secret"})
        self.assertEqual(st, 200, body)

    def test_public_routes_outside_v1(self):
        st, h, body = self.s.request("GET", "/")
        self.assertEqual(st, 200)
        st, h, body = self.s.request("GET", "/nowhere")
        self.assertEqual(st, 404)

    def test_options_preflight_never_401(self):
        st, h, body = self.s.request("OPTIONS", "/v1/agents")
        self.assertEqual(st, 200, body)
        st, h, body = self.s.request("OPTIONS", "/v1/sessions/x", headers={
            "Origin": "http://example.com", "Access-Control-Request-Method": "POST",
            "Authorization": "Bearer wrong"})
        self.assertEqual(st, 200, body)


class TestShortTokenFlag(ServerTestCase):
    server_args = ["-t", "s2"]

    def test_short_flag(self):
        st, body, h = self.s.json("GET", "/v1/agents")
        self.assertEqual(st, 401)
        st, body, h = self.s.json("GET", "/v1/agents", headers={"Authorization": "Bearer s2"})
        self.assertEqual(st, 200)


class TestNoTokenFlag(ServerTestCase):
    server_args = ["--no-token"]

    def test_no_auth_needed(self):
        st, body, h = self.s.json("GET", "/v1/agents")
        self.assertEqual(st, 200, body)


# ====================================================================== CORS

VARY = "origin, access-control-request-method, access-control-request-headers"


def cors_headers(h):
    return {k: v for k, v in h.items() if k.startswith("access-control-")}


def vary_set(h):
    return [v.strip().lower() for v in h.get("vary", "").split(",") if v.strip()]


class TestCors(ServerTestCase):
    server_args = ["-O", "http://example.com", "-M", "GET", "-M", "POST",
                   "-A", "content-type", "-A", "authorization"]

    def test_preflight_snapshot(self):
        st, h, body = self.s.request("OPTIONS", "/v1/agents", headers={
            "Origin": "http://example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,content-type"})
        self.assertEqual(st, 200)
        self.assertEqual(body, b"")
        self.assertEqual(cors_headers(h), {
            "access-control-allow-origin": "http://example.com",
            "access-control-allow-methods": "GET,POST",
            "access-control-allow-headers": "content-type,authorization",
        })
        self.assertEqual(vary_set(h), VARY.split(", "))

    def test_actual_request_snapshot(self):
        st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": "http://example.com"})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})
        self.assertEqual(cors_headers(h), {"access-control-allow-origin": "http://example.com"})
        self.assertEqual(vary_set(h), VARY.split(", "))

    def test_vary_without_origin(self):
        st, h, body = self.s.request("GET", "/v1/health")
        self.assertEqual(st, 200)
        self.assertEqual(cors_headers(h), {})
        self.assertEqual(vary_set(h), VARY.split(", "))

    def test_non_matching_origin(self):
        st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": "http://evil.com"})
        self.assertEqual(st, 200)
        self.assertNotIn("access-control-allow-origin", h)
        self.assertEqual(vary_set(h), VARY.split(", "))

    def test_origin_match_is_exact(self):
        for o in ("http://example.com/", "http://example.com:80", "https://example.com",
                  "http://example.co", "http://sub.example.com"):
            st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": o})
            self.assertEqual(st, 200)
            self.assertNotIn("access-control-allow-origin", h, o)

    def test_preflight_non_matching_origin(self):
        st, h, body = self.s.request("OPTIONS", "/v1/agents", headers={
            "Origin": "http://evil.com", "Access-Control-Request-Method": "GET"})
        self.assertEqual(st, 200)
        self.assertNotIn("access-control-allow-origin", h)
        self.assertEqual(h.get("access-control-allow-methods"), "GET,POST")
        self.assertEqual(h.get("access-control-allow-headers"), "content-type,authorization")

    def test_any_options_is_preflight(self):
        st, h, body = self.s.request("OPTIONS", "/no/such/route", headers={"Origin": "http://example.com"})
        self.assertEqual(st, 200)
        self.assertEqual(body, b"")
        self.assertEqual(h.get("access-control-allow-origin"), "http://example.com")
        self.assertEqual(h.get("access-control-allow-methods"), "GET,POST")

    def test_no_credentials_header_without_flag(self):
        st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": "http://example.com"})
        self.assertNotIn("access-control-allow-credentials", h)

    def test_cors_on_404(self):
        st, h, body = self.s.request("GET", "/nope", headers={"Origin": "http://example.com"})
        self.assertEqual(st, 404)
        self.assertEqual(h.get("access-control-allow-origin"), "http://example.com")
        self.assertEqual(vary_set(h), VARY.split(", "))

    def test_cors_on_problem_error(self):
        st, h, body = self.s.request("GET", "/v1/sessions/nope/events", headers={"Origin": "http://example.com"})
        self.assertEqual(st, 404)
        self.assertEqual(h.get("access-control-allow-origin"), "http://example.com")


class TestCorsAuth(ServerTestCase):
    server_args = ["--token", "secret", "-O", "http://a.test", "-O", "http://b.test"]

    def test_cors_on_401(self):
        st, h, body = self.s.request("GET", "/v1/agents", headers={"Origin": "http://a.test"})
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(body), TOKEN_INVALID)
        self.assertEqual(h.get("access-control-allow-origin"), "http://a.test")
        self.assertEqual(vary_set(h), VARY.split(", "))

    def test_multiple_origins(self):
        for o in ("http://a.test", "http://b.test"):
            st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": o})
            self.assertEqual(h.get("access-control-allow-origin"), o)

    def test_preflight_wildcards_and_no_401(self):
        st, h, body = self.s.request("OPTIONS", "/v1/agents", headers={
            "Origin": "http://b.test", "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "x-foo"})
        self.assertEqual(st, 200)
        self.assertEqual(cors_headers(h), {
            "access-control-allow-origin": "http://b.test",
            "access-control-allow-methods": "*",
            "access-control-allow-headers": "*",
        })


class TestCorsDefault(ServerTestCase):

    def test_no_origin_allowed_by_default(self):
        st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": "http://example.com"})
        self.assertEqual(st, 200)
        self.assertNotIn("access-control-allow-origin", h)
        self.assertEqual(vary_set(h), VARY.split(", "))

    def test_default_preflight(self):
        st, h, body = self.s.request("OPTIONS", "/v1/health", headers={
            "Origin": "http://example.com", "Access-Control-Request-Method": "GET"})
        self.assertEqual(st, 200)
        self.assertEqual(cors_headers(h), {"access-control-allow-methods": "*",
                                           "access-control-allow-headers": "*"})


class TestCorsCredentials(ServerTestCase):
    server_args = ["-O", "http://example.com", "-C", "-M", "GET", "-A", "Content-Type"]

    def test_credentials_on_actual_request(self):
        st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": "http://example.com"})
        self.assertEqual(st, 200)
        self.assertEqual(h.get("access-control-allow-credentials"), "true")
        self.assertEqual(h.get("access-control-allow-origin"), "http://example.com")

    def test_credentials_independent_of_origin(self):
        st, h, body = self.s.request("GET", "/v1/health", headers={"Origin": "http://other.test"})
        self.assertEqual(h.get("access-control-allow-credentials"), "true")
        self.assertNotIn("access-control-allow-origin", h)
        st, h, body = self.s.request("GET", "/v1/health")
        self.assertEqual(h.get("access-control-allow-credentials"), "true")

    def test_credentials_on_preflight_and_lowercased_headers(self):
        st, h, body = self.s.request("OPTIONS", "/v1/agents", headers={
            "Origin": "http://example.com", "Access-Control-Request-Method": "GET"})
        self.assertEqual(st, 200)
        self.assertEqual(cors_headers(h), {
            "access-control-allow-origin": "http://example.com",
            "access-control-allow-methods": "GET",
            "access-control-allow-headers": "content-type",
            "access-control-allow-credentials": "true",
        })


# ====================================================================== HTTP/1.1

class TestHttp11(ServerTestCase):

    def test_keep_alive_two_requests(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health"))
            r1 = c.read_response()
            c.send(req("GET", "/"))
            r2 = c.read_response()
            self.assertEqual(r1.status, 200)
            self.assertEqual(r1.body, b'{"status":"ok"}')
            self.assertEqual(r2.status, 200)
            self.assertEqual(r2.body.decode(), SERVER_INFO)
            self.assertFalse(c.is_closed(0.3), "keep-alive connection was closed")

    def test_pipelining_three_in_one_write(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health") + req("GET", "/missing") + req("GET", "/"))
            rs = [c.read_response() for _ in range(3)]
        self.assertEqual([r.status for r in rs], [200, 404, 200])
        self.assertEqual(rs[0].body, b'{"status":"ok"}')
        self.assertEqual(rs[1].body.decode(), "404 Not Found\n\n" + SERVER_INFO)
        self.assertEqual(rs[2].body.decode(), SERVER_INFO)

    def test_pipelining_byte_by_byte(self):
        data = req("GET", "/v1/health") + req("GET", "/v1/health")
        with self.s.conn() as c:
            for i in range(len(data)):
                c.send(data[i:i + 1])
            rs = [c.read_response() for _ in range(2)]
        self.assertEqual([r.status for r in rs], [200, 200])

    def test_pipelining_many(self):
        n = 50
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health") * n)
            rs = [c.read_response() for _ in range(n)]
        self.assertTrue(all(r.status == 200 and r.body == b'{"status":"ok"}' for r in rs))

    def test_pipelined_post_with_body_then_get(self):
        sid = unique_id()
        with self.s.conn() as c:
            c.send(json_req("/v1/sessions/" + sid, {"agent": "mock"}) + req("GET", "/v1/sessions/%s/events" % sid))
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.json()["events"][0]["type"], "session.started")

    def test_body_on_get_is_skipped(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health", [("Content-Length", "5")], b"hello") + req("GET", "/"))
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual((r1.status, r2.status), (200, 200))
        self.assertEqual(r2.body.decode(), SERVER_INFO)

    def test_bare_lf_line_endings(self):
        data = self.s.raw(b"GET /v1/health HTTP/1.1\nHost: x\nConnection: close\n\n")
        r, rest = parse_raw_response(data)
        self.assertEqual(r.status, 200)

    def test_http10_closes_after_response(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health", version="1.0", host=False))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b'{"status":"ok"}')
            self.assertTrue(c.is_closed(2), "HTTP/1.0 connection left open")

    def test_http10_keep_alive(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health", [("Connection", "keep-alive")], version="1.0"))
            r1 = c.read_response()
            self.assertEqual(r1.status, 200)
            self.assertFalse(c.is_closed(0.3), "HTTP/1.0 keep-alive connection was closed")
            c.send(req("GET", "/v1/health", [("Connection", "keep-alive")], version="1.0"))
            r2 = c.read_response()
            self.assertEqual(r2.status, 200)

    def test_connection_close_honoured(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health", [("Connection", "close")]))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(c.is_closed(2), "Connection: close ignored")

    def test_connection_close_token_in_list(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health", [("Connection", "TE, Close")]))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(c.is_closed(2), "Connection: TE, Close ignored")

    def test_connection_close_stops_pipeline(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health", [("Connection", "close")]) + req("GET", "/"))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(c.is_closed(2), "request after Connection: close was answered")

    def test_response_has_content_length_or_chunked(self):
        with self.s.conn() as c:
            for path in ("/v1/health", "/", "/x", "/v1/agents"):
                c.send(req("GET", path))
                r = c.read_response()
                self.assertTrue("content-length" in r.headers or
                                r.headers.get("transfer-encoding", "").lower() == "chunked", (path, r))

    def test_chunked_request_body(self):
        sid = unique_id()
        body = b'{"agent":"mock"}'
        data = req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                  ("Transfer-Encoding", "chunked")]) + chunked(body, [3, 5])
        with self.s.conn() as c:
            c.send(data)
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("healthy"), True)

    def test_chunked_with_extensions_and_trailers(self):
        sid = unique_id()
        data = req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                  ("Transfer-Encoding", "chunked")])
        data += b"8;name=value\r\n{\"agent\"\r\n8\r\n:\"mock\"}\r\n0\r\nX-Trailer: yes\r\n\r\n"
        data += req("GET", "/v1/health")
        with self.s.conn() as c:
            c.send(data)
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r2.status, 200, r2)

    def test_chunked_split_across_writes(self):
        sid = unique_id()
        data = req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                  ("Transfer-Encoding", "chunked")]) + \
            chunked(b'{"agent":"mock"}', [1, 1, 1, 1, 1, 1, 1])
        with self.s.conn() as c:
            for i in range(0, len(data), 3):
                c.send(data[i:i + 3])
                time.sleep(0.001)
            r = c.read_response()
        self.assertEqual(r.status, 200, r)

    def test_expect_100_continue(self):
        sid = unique_id()
        body = b'{"agent":"mock"}'
        with self.s.conn() as c:
            c.send(req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                      ("Content-Length", str(len(body))),
                                                      ("Expect", "100-continue")]))
            interim = c.read_response(allow_interim=True)
            self.assertEqual(interim.status, 100, interim)
            self.assertTrue(interim.version == "HTTP/1.1")
            c.send(body)
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("healthy"), True)

    def test_expect_100_continue_chunked(self):
        sid = unique_id()
        with self.s.conn() as c:
            c.send(req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                      ("Transfer-Encoding", "chunked"),
                                                      ("Expect", "100-continue")]))
            interim = c.read_response(allow_interim=True)
            self.assertEqual(interim.status, 100, interim)
            c.send(chunked(b'{"agent":"mock"}', [4]))
            r = c.read_response()
        self.assertEqual(r.status, 200, r)

    def test_no_100_continue_without_expect(self):
        sid = unique_id()
        body = b'{"agent":"mock"}'
        with self.s.conn() as c:
            c.send(req("POST", "/v1/sessions/" + sid, [("Content-Type", "application/json"),
                                                      ("Content-Length", str(len(body)))]))
            time.sleep(0.2)
            c.send(body)
            r = c.read_response(allow_interim=True)
        self.assertEqual(r.status, 200, r)

    def test_unknown_expectation_417_or_400(self):
        data = self.s.raw(req("POST", "/v1/sessions/" + unique_id(),
                              [("Content-Type", "application/json"), ("Content-Length", "2"),
                               ("Expect", "something-else"), ("Connection", "close")], b"{}"))
        r, _ = parse_raw_response(data)
        self.assertIn(r.status, (400, 417), r)

    def test_pipelining_1000_in_one_write(self):
        n = 1000
        with self.s.conn(timeout=30) as c:
            c.send(req("GET", "/v1/health") * n)
            rs = [c.read_response() for _ in range(n)]
            self.assertTrue(all(r.status == 200 and r.body == b'{"status":"ok"}' for r in rs))
            c.send(req("GET", "/"))
            self.assertEqual(c.read_response().status, 200)

    def test_header_name_case_insensitive(self):
        sid = unique_id()
        body = b'{"agent":"mock"}'
        with self.s.conn() as c:
            c.send(req("POST", "/v1/sessions/" + sid, [("cOnTeNt-TyPe", "application/json"),
                                                      ("CONTENT-LENGTH", str(len(body)))], body))
            r = c.read_response()
        self.assertEqual(r.status, 200, r)

    def test_obs_text_and_empty_header_values_accepted(self):
        data = (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xc3\xa9 \xff\r\n"
                b"X-Empty:\r\nX-Tab:\tv\t\r\n\r\n")
        with self.s.conn() as c:
            c.send(data)
            r = c.read_response()
        self.assertEqual(r.status, 200, r)

    def test_preflight_framing_in_pipeline(self):
        with self.s.conn() as c:
            c.send(req("OPTIONS", "/v1/agents", [("Origin", "http://x.test"),
                                                 ("Access-Control-Request-Method", "GET")])
                   + req("GET", "/v1/health"))
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual(r1.status, 200)
        self.assertEqual(r1.body, b"")
        self.assertTrue("content-length" in r1.headers or "transfer-encoding" in r1.headers, r1)
        self.assertEqual(r2.body, b'{"status":"ok"}')

    def test_error_response_keeps_connection(self):
        """A 404, 405, 401-free problem or 415 on a well-framed request
        leaves the connection usable."""
        with self.s.conn() as c:
            c.send(req("GET", "/nope") + req("DELETE", "/v1/health")
                   + req("POST", "/v1/sessions/" + unique_id(), [("Content-Length", "2")], b"{}")
                   + req("GET", "/v1/sessions/nope/events") + req("GET", "/v1/health"))
            rs = [c.read_response() for _ in range(5)]
        self.assertEqual([r.status for r in rs], [404, 405, 415, 404, 200])

    def test_expect_100_continue_oversized(self):
        with self.s.conn() as c:
            c.send(req("POST", "/v1/sessions/" + unique_id(), [("Content-Type", "application/json"),
                                                              ("Content-Length", "3000000"),
                                                              ("Expect", "100-continue")]))
            r = c.read_response()  # an interim 100 is skipped
            self.assertEqual(r.status, 413, r)

    def test_date_and_server_headers_sane(self):
        with self.s.conn() as c:
            c.send(req("GET", "/v1/health"))
            r = c.read_response()
        self.assertEqual(r.version, "HTTP/1.1")
        self.assertEqual(len(r.header_all("content-length")), 1)
        self.assertEqual(len(r.header_all("content-type")), 1)

    def test_health_on_http_client(self):
        # a plain http.client round trip through the same keep-alive connection
        c = self.s.connection()
        try:
            for _ in range(3):
                c.request("GET", "/v1/health")
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.read(), b'{"status":"ok"}')
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
