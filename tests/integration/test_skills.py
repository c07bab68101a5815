"""Skills on session create (local sources): discovery, name filter,
links into the agents' skill folders, and the errors of a missing
directory, an empty filter result and an unsupported source type."""

import os
import tempfile

from sesslib import SessionCase


def make_tree(root, names):
    for n in names:
        os.makedirs(os.path.join(root, n), exist_ok=True)
        with open(os.path.join(root, n, "SKILL.md"), "w") as f:
            f.write("# %s\n" % n)


class TestSkills(SessionCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skills-")
        self.src = os.path.join(self.tmp, "src")
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.work)

    def problem(self, body):
        st, resp, _ = self.post("/v1/sessions/%s" % os.path.basename(tempfile.mktemp()), body)
        self.assertEqual(st, 400, resp)
        self.assertEqual(resp["type"], "urn:sandbox-agent:error:invalid_request")
        return resp["detail"]

    def test_local_source_links_every_skill(self):
        make_tree(self.src, ["my-test-skill", "second"])
        self.create(directory=self.work, skills={"sources": [{"type": "local", "source": self.src}]})
        for root in (".agents/skills", ".claude/skills", ".opencode/skill"):
            for name in ("my-test-skill", "second"):
                link = os.path.join(self.work, root, name)
                self.assertTrue(os.path.islink(link), link)
                self.assertEqual(os.path.realpath(link), os.path.realpath(os.path.join(self.src, name)))

    def test_filter_keeps_named_skills_only(self):
        make_tree(self.src, ["wanted-skill", "unwanted-skill"])
        self.create(directory=self.work, skills={"sources": [
            {"type": "local", "source": self.src, "skills": ["wanted-skill"]}]})
        root = os.path.join(self.work, ".claude/skills")
        self.assertEqual(sorted(os.listdir(root)), ["wanted-skill"])

    def test_root_and_skills_subdir_and_subpath(self):
        make_tree(os.path.join(self.src, "pkg", "skills"), ["nested"])
        make_tree(self.src, ["pkg"])  # pkg itself holds SKILL.md
        self.create(directory=self.work, skills={"sources": [
            {"type": "local", "source": self.src, "subpath": "pkg"}]})
        self.assertEqual(sorted(os.listdir(os.path.join(self.work, ".agents/skills"))), ["nested", "pkg"])

    def test_relative_source_resolves_in_session_directory(self):
        make_tree(os.path.join(self.work, "local-skills"), ["rel"])
        self.create(directory=self.work, skills={"sources": [{"type": "local", "source": "local-skills"}]})
        self.assertTrue(os.path.islink(os.path.join(self.work, ".claude/skills/rel")))

    def test_same_skill_twice_is_fine(self):
        make_tree(self.src, ["dup"])
        spec = {"sources": [{"type": "local", "source": self.src}, {"type": "local", "source": self.src}]}
        self.create(directory=self.work, skills=spec)
        self.create(directory=self.work, skills=spec)  # existing identical links are accepted

    def test_missing_directory(self):
        detail = self.problem({"agent": "mock", "skills": {"sources": [
            {"type": "local", "source": os.path.join(self.tmp, "nope")}]}})
        self.assertIn("local skill directory not found", detail)

    def test_missing_subpath(self):
        make_tree(self.src, ["a"])
        detail = self.problem({"agent": "mock", "skills": {"sources": [
            {"type": "local", "source": self.src, "subpath": "missing"}]}})
        self.assertIn("skill search directory not found", detail)

    def test_filter_matching_nothing(self):
        make_tree(self.src, ["a"])
        detail = self.problem({"agent": "mock", "directory": self.work, "skills": {"sources": [
            {"type": "local", "source": self.src, "skills": ["x", "y"]}]}})
        self.assertEqual(detail, "invalid request: no skills found in %s (local) (filter: x, y)" % self.src)

    def test_conflicting_destination(self):
        make_tree(self.src, ["clash"])
        os.makedirs(os.path.join(self.work, ".claude/skills/clash"))  # a directory without SKILL.md
        detail = self.problem({"agent": "mock", "directory": self.work, "skills": {"sources": [
            {"type": "local", "source": self.src}]}})
        self.assertIn("skill path conflict", detail)

    def test_unsupported_type(self):
        detail = self.problem({"agent": "mock", "skills": {"sources": [{"type": "svn", "source": "x"}]}})
        self.assertIn("unsupported skill source type: svn", detail)

    def test_skills_echoed_in_listing(self):
        make_tree(self.src, ["echo"])
        spec = {"sources": [{"type": "local", "source": self.src}]}
        sid = self.create(directory=self.work, skills=spec)
        st, resp, _ = self.s.json("GET", "/v1/sessions")
        info = [x for x in resp["sessions"] if x["sessionId"] == sid][0]
        self.assertEqual(info["skills"], spec)
