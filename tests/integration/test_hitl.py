"""test_hitl.py - human-in-the-loop over HTTP with the mock agent:
permission replies (once/always/reject), auto-approval after "always",
question replies and rejects, unknown ids, replies on terminated
sessions, and body validation.
Spec: api-v1.md 3.2, 4.13-4.15, 7, 9.2, 9.3, 12.5, 12.6, 12.8."""

from sesslib import (ASK_PROMPT, ASK_PROMPT2, BASH_PROMPT, LS_PROMPT, SessionCase, describe,
                     of_type, quote, types)

LS_META = {"codexRequestKind": "commandExecution", "command": "ls"}


class HitlCase(SessionCase):

    def reply_perm(self, sid, pid, reply):
        return self.post("/v1/sessions/%s/permissions/%s/reply" % (quote(sid), quote(pid)),
                         {"reply": reply})

    def reply_q(self, sid, qid, answers):
        return self.post("/v1/sessions/%s/questions/%s/reply" % (quote(sid), quote(qid)),
                         {"answers": answers})

    def reject_q(self, sid, qid):
        return self.post("/v1/sessions/%s/questions/%s/reject" % (quote(sid), quote(qid)))

    def assert204(self, got):
        st, body, h = got
        self.assertEqual(st, 204, body)
        self.assertIsNone(body)

    def permission_session(self, prompt=LS_PROMPT, mode="plan"):
        """A session whose first turn stopped at a pending permission."""
        sid = self.create(permissionMode=mode)
        evs = self.run_turn(sid, prompt, until="permission.requested")
        req = of_type(evs, "permission.requested")[0]
        self.assertEqual(req["data"], {"permission_id": "mock_1_permission",
                                       "action": "command_execution", "status": "requested",
                                       "metadata": LS_META})
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed",
                                      "permission.requested"], describe(evs))
        return sid, req

    def resolved_after(self, sid, seq, n=1):
        evs = self.wait_count(sid, "permission.resolved", n, seq)
        return of_type(evs, "permission.resolved")

    def assertResolved(self, ev, pid, status, meta=LS_META, action="command_execution"):
        self.assertEqual(ev["type"], "permission.resolved")
        self.assertEqual((ev["synthetic"], ev["source"]), (True, "daemon"), ev)
        self.assertEqual(ev["data"], {"permission_id": pid, "action": action, "status": status,
                                      "metadata": meta})


# ====================================================================== permissions

class TestPermissions(HitlCase):

    def test_reply_once(self):
        sid, req = self.permission_session()
        self.assert204(self.reply_perm(sid, "mock_1_permission", "once"))
        res = self.resolved_after(sid, req["sequence"])
        self.assertEqual(len(res), 1)
        self.assertResolved(res[0], "mock_1_permission", "accept")
        # resolved right after the request; no agent follow-up, no turn.ended
        after = self.barrier(sid, since=req["sequence"])
        self.assertEqual(types(after), ["permission.resolved"], describe(after))
        self.assertContiguous(self.events(sid), 1, sid)

    def test_resolving_twice_is_unknown(self):
        sid, req = self.permission_session()
        self.assert204(self.reply_perm(sid, "mock_1_permission", "once"))
        for reply in ("once", "always", "reject"):
            got = self.reply_perm(sid, "mock_1_permission", reply)
            self.assertProblemExact(got, "invalid_request",
                                    "invalid request: unknown permission id: mock_1_permission")
        self.assertEqual(len(of_type(self.events(sid), "permission.resolved")), 1)

    def test_reply_reject(self):
        sid, req = self.permission_session()
        self.assert204(self.reply_perm(sid, "mock_1_permission", "reject"))
        res = self.resolved_after(sid, req["sequence"])
        self.assertResolved(res[0], "mock_1_permission", "reject")

    def test_reply_always_then_auto_approval(self):
        sid, req = self.permission_session()
        self.assert204(self.reply_perm(sid, "mock_1_permission", "always"))
        res = self.resolved_after(sid, req["sequence"])
        self.assertResolved(res[0], "mock_1_permission", "accept_for_session")
        # the same prompt again: requested, then resolved with no reply
        before = self.last_seq(sid)
        self.send(sid, LS_PROMPT)
        evs = self.wait_count(sid, "permission.resolved", 1, before)
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed",
                                      "permission.requested", "permission.resolved"], describe(evs))
        self.assertEqual(evs[3]["data"], {"permission_id": "mock_2_permission",
                                          "action": "command_execution", "status": "requested",
                                          "metadata": LS_META})
        self.assertResolved(evs[4], "mock_2_permission", "accept_for_session")
        self.assertEqual(evs[4]["sequence"], evs[3]["sequence"] + 1)
        # no longer pending
        got = self.reply_perm(sid, "mock_2_permission", "once")
        self.assertProblemExact(got, "invalid_request",
                                "invalid request: unknown permission id: mock_2_permission")
        self.assertContiguous(self.events(sid), 1, sid)

    def test_always_covers_same_action_only(self):
        sid, req = self.permission_session()
        self.assert204(self.reply_perm(sid, "mock_1_permission", "always"))
        self.resolved_after(sid, req["sequence"])
        # `permissions`: command_execution (auto-approved) and file_change (pending)
        before = self.last_seq(sid)
        self.send(sid, "permissions")
        prior = self.barrier(sid, since=before)
        self.assertEqual(types(prior), ["turn.started", "item.started", "item.completed",
                                        "permission.requested", "permission.resolved",
                                        "permission.requested"], describe(prior))
        self.assertResolved(prior[4], "mock_2_permission", "accept_for_session",
                            meta={"codexRequestKind": "commandExecution", "command": "echo mock"})
        self.assertEqual(prior[5]["data"]["permission_id"], "mock_2_permission_denied")
        self.assertEqual(prior[5]["data"]["status"], "requested")
        # the file change is still pending and can be rejected
        self.assert204(self.reply_perm(sid, "mock_2_permission_denied", "reject"))
        res = self.resolved_after(sid, prior[5]["sequence"])
        self.assertResolved(res[-1], "mock_2_permission_denied", "reject", action="file_change",
                            meta={"codexRequestKind": "fileChange", "path": "mock_2/deny.txt"})

    def test_always_is_per_session(self):
        a, req = self.permission_session()
        self.assert204(self.reply_perm(a, "mock_1_permission", "always"))
        b, req_b = self.permission_session()  # not auto-approved in another session
        after = self.barrier(b, since=req_b["sequence"])
        self.assertEqual(after, [])
        self.assert204(self.reply_perm(b, "mock_1_permission", "once"))

    def test_two_pending_resolved_in_any_order(self):
        sid = self.create()
        before = self.last_seq(sid)
        self.send(sid, "permission")
        self.wait_count(sid, "permission.requested", 2, before)
        self.assert204(self.reply_perm(sid, "mock_1_permission_denied", "reject"))
        self.assert204(self.reply_perm(sid, "mock_1_permission", "once"))
        res = self.resolved_after(sid, before, 2)
        self.assertEqual([(r["data"]["permission_id"], r["data"]["status"]) for r in res],
                         [("mock_1_permission_denied", "reject"), ("mock_1_permission", "accept")])

    def test_unknown_permission_id(self):
        sid = self.create(permissionMode="plan")
        got = self.reply_perm(sid, "missing-permission", "once")
        self.assertEqual(got[1], {"type": "urn:sandbox-agent:error:invalid_request",
                                  "title": "Invalid Request", "status": 400,
                                  "detail": "invalid request: unknown permission id: missing-permission"})
        self.assertEqual(got[0], 400)

    def test_question_id_is_not_a_permission_id(self):
        sid = self.create()
        self.run_turn(sid, ASK_PROMPT, until="question.requested")
        got = self.reply_perm(sid, "mock_1_question", "once")
        self.assertProblemExact(got, "invalid_request",
                                "invalid request: unknown permission id: mock_1_question")
        # the question is still pending
        self.assert204(self.reply_q(sid, "mock_1_question", [["Yes"]]))

    def test_other_sessions_permission_is_unknown(self):
        a, req = self.permission_session()
        b = self.create()
        got = self.reply_perm(b, "mock_1_permission", "once")
        self.assertProblemExact(got, "invalid_request",
                                "invalid request: unknown permission id: mock_1_permission")
        self.assert204(self.reply_perm(a, "mock_1_permission", "once"))

    def test_bad_reply_value_422(self):
        sid, req = self.permission_session()
        for body in ({"reply": "Once"}, {"reply": "sometimes"}, {"reply": 1}, {}):
            with self.subTest(body=body):
                st, resp, h = self.post("/v1/sessions/%s/permissions/mock_1_permission/reply" % sid,
                                        body)
                self.assertEqual(st, 422, resp)
        # still pending after the bad bodies
        self.assert204(self.reply_perm(sid, "mock_1_permission", "once"))

    def test_bash_prompt_reply_after_turn_ended(self):
        # the tool prompt emits its permission and goes on to turn.ended; the
        # permission stays pending and can be answered afterwards
        sid = self.create(permissionMode="plan")
        evs = self.run_turn(sid, BASH_PROMPT)
        req = of_type(evs, "permission.requested")[0]
        self.assert204(self.reply_perm(sid, "mock_1_permission", "once"))
        res = self.resolved_after(sid, evs[-1]["sequence"])
        self.assertResolved(res[0], "mock_1_permission", "accept")
        self.assertGreater(res[0]["sequence"], req["sequence"])

    def test_terminated_session(self):
        sid, req = self.permission_session()
        self.terminate(sid)
        for reply in ("once", "once", "reject"):
            got = self.reply_perm(sid, "mock_1_permission", reply)
            self.assertProblemExact(got, "invalid_request", "invalid request: session terminated")
        evs = self.events(sid)
        self.assertEqual(types(evs)[-1], "session.ended")
        self.assertEqual(of_type(evs, "permission.resolved"), [])
        # unknown ids are still reported as unknown
        got = self.reply_perm(sid, "missing-permission", "once")
        self.assertProblemExact(got, "invalid_request",
                                "invalid request: unknown permission id: missing-permission")


# ====================================================================== questions

class TestQuestions(HitlCase):

    def question_session(self, prompt=ASK_PROMPT):
        sid = self.create(permissionMode="plan", agentMode="plan")
        evs = self.run_turn(sid, prompt, until="question.requested")
        req = evs[-1]
        self.assertEqual(req["data"], {"question_id": "mock_1_question", "prompt": "Proceed?",
                                       "options": ["Yes", "No"], "response": None,
                                       "status": "requested"})
        self.assertEqual(len(req["data"]["options"]), 2)
        return sid, req

    def resolved(self, sid, seq, n=1):
        return of_type(self.wait_count(sid, "question.resolved", n, seq), "question.resolved")

    def assertQResolved(self, ev, qid, status, response, prompt="Proceed?", options=("Yes", "No")):
        self.assertEqual((ev["type"], ev["synthetic"], ev["source"]),
                         ("question.resolved", True, "daemon"), ev)
        self.assertEqual(ev["data"], {"question_id": qid, "prompt": prompt, "options": list(options),
                                      "response": response, "status": status})

    def test_reply_first_option(self):
        for prompt in (ASK_PROMPT, ASK_PROMPT2):
            with self.subTest(prompt=prompt[:10]):
                sid, req = self.question_session(prompt)
                self.assert204(self.reply_q(sid, "mock_1_question", [[req["data"]["options"][0]]]))
                res = self.resolved(sid, req["sequence"])
                self.assertQResolved(res[0], "mock_1_question", "answered", "Yes")
                after = self.barrier(sid, since=req["sequence"])
                self.assertEqual(types(after), ["question.resolved"], describe(after))

    def test_response_is_first_answer_of_first_question(self):
        cases = [([["No", "Yes"], ["x"]], "No"), ([[]], None), ([], None),
                 ([["free text \u00e9"]], "free text \u00e9")]
        for answers, want in cases:
            with self.subTest(answers=answers):
                sid, req = self.question_session()
                self.assert204(self.reply_q(sid, "mock_1_question", answers))
                res = self.resolved(sid, req["sequence"])
                self.assertQResolved(res[0], "mock_1_question", "answered", want)

    def test_reject(self):
        sid, req = self.question_session()
        self.assert204(self.reject_q(sid, "mock_1_question"))
        res = self.resolved(sid, req["sequence"])
        self.assertQResolved(res[0], "mock_1_question", "rejected", None)

    def test_resolving_twice_is_unknown(self):
        sid, req = self.question_session()
        self.assert204(self.reply_q(sid, "mock_1_question", [["Yes"]]))
        detail = "invalid request: unknown question id: mock_1_question"
        self.assertProblemExact(self.reply_q(sid, "mock_1_question", [["No"]]), "invalid_request",
                                detail)
        self.assertProblemExact(self.reject_q(sid, "mock_1_question"), "invalid_request", detail)
        self.assertEqual(len(of_type(self.events(sid), "question.resolved")), 1)

    def test_reject_then_reply_is_unknown(self):
        sid, req = self.question_session()
        self.assert204(self.reject_q(sid, "mock_1_question"))
        self.assertProblemExact(self.reply_q(sid, "mock_1_question", [["Yes"]]), "invalid_request",
                                "invalid request: unknown question id: mock_1_question")

    def test_two_questions_command(self):
        sid = self.create()
        before = self.last_seq(sid)
        self.send(sid, "questions")
        self.wait_count(sid, "question.requested", 2, before)
        self.assert204(self.reject_q(sid, "mock_1_question_reject"))
        self.assert204(self.reply_q(sid, "mock_1_question", [["Blue"]]))
        res = self.resolved(sid, before, 2)
        self.assertQResolved(res[0], "mock_1_question_reject", "rejected", None,
                             prompt="Allow mock experiment?", options=("Yes", "No"))
        self.assertQResolved(res[1], "mock_1_question", "answered", "Blue",
                             prompt="Choose a color", options=("Red", "Blue"))

    def test_unknown_question_id(self):
        sid = self.create(permissionMode="plan")
        want = {"type": "urn:sandbox-agent:error:invalid_request", "title": "Invalid Request",
                "status": 400, "detail": "invalid request: unknown question id: missing-question"}
        st, body, h = self.reply_q(sid, "missing-question", [["Yes"]])
        self.assertEqual((st, body), (400, want))
        st, body, h = self.reject_q(sid, "missing-question")
        self.assertEqual((st, body), (400, want))

    def test_permission_id_is_not_a_question_id(self):
        sid = self.create()
        self.run_turn(sid, LS_PROMPT, until="permission.requested")
        self.assertProblemExact(self.reply_q(sid, "mock_1_permission", [["Yes"]]), "invalid_request",
                                "invalid request: unknown question id: mock_1_permission")
        self.assertProblemExact(self.reject_q(sid, "mock_1_permission"), "invalid_request",
                                "invalid request: unknown question id: mock_1_permission")

    def test_bad_body_422(self):
        sid, req = self.question_session()
        for body in ({}, {"answers": "Yes"}, {"answers": ["Yes"]}, {"answers": [[1]]}):
            with self.subTest(body=body):
                st, resp, h = self.post("/v1/sessions/%s/questions/mock_1_question/reply" % sid, body)
                self.assertEqual(st, 422, resp)
        self.assert204(self.reply_q(sid, "mock_1_question", [["Yes"]]))

    def test_terminated_session(self):
        sid, req = self.question_session()
        self.terminate(sid)
        for _ in range(2):
            self.assertProblemExact(self.reply_q(sid, "mock_1_question", [["Yes"]]),
                                    "invalid_request", "invalid request: session terminated")
            self.assertProblemExact(self.reject_q(sid, "mock_1_question"),
                                    "invalid_request", "invalid request: session terminated")
        evs = self.events(sid)
        self.assertEqual(types(evs)[-1], "session.ended")
        self.assertEqual(of_type(evs, "question.resolved"), [])

    def test_question_on_one_session_reject_on_another(self):
        # spec 12.6: reply on one session, reject on another session's question
        a, ra = self.question_session()
        b, rb = self.question_session()
        self.assert204(self.reply_q(a, "mock_1_question", [["Yes"]]))
        self.assert204(self.reject_q(b, "mock_1_question"))
        self.assertQResolved(self.resolved(a, ra["sequence"])[0], "mock_1_question", "answered",
                             "Yes")
        self.assertQResolved(self.resolved(b, rb["sequence"])[0], "mock_1_question", "rejected",
                             None)
