"""Unit tests for corpus v8's trixie selection (issue 16, session 12): upstream versions, new/changed/same, the
dev-rule source rule, the site-packages and hard-exclusion names, the order, and --names mode.
  /usr/bin/python3 -m unittest native/py/test_corpus_v8.py"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus_v8_select import is_dev, upstream  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus_v8_select.py")


def stanza(name, version, source=None, size=1000, arch="all"):
    s = f"Package: {name}\n"
    if source:
        s += f"Source: {source}\n"
    return s + f"Version: {version}\nArchitecture: {arch}\nSize: {size}\n"


class Upstream(unittest.TestCase):
    def test_strips_epoch_and_revision(self):
        self.assertEqual(upstream("1:2.3.4-1+b2"), "2.3.4")
        self.assertEqual(upstream("2.3.4-1-2"), "2.3.4-1")
        self.assertEqual(upstream("0.11.3+deb13u1"), "0.11.3+deb13u1")  # native package: no revision
        self.assertEqual(upstream("2:25.1.0-2+deb12u3"), "25.1.0")


class Select(unittest.TestCase):
    def run_select(self, tx, bw, contents, names=None):
        with tempfile.TemporaryDirectory() as d:
            p = lambda n: os.path.join(d, n)
            open(p("tx"), "w").write("\n".join(tx))
            open(p("bw"), "w").write("\n".join(bw))
            with gzip.open(p("c.gz"), "wt") as f:
                f.writelines(f"{path} {loc}\n" for path, loc in contents)
            json.dump({"packages": [{"name": "regex"}]}, open(p("m.json"), "w"))
            args = [sys.executable, SCRIPT, "--trixie", p("tx"), "--bookworm", p("bw"), "--contents", p("c.gz"),
                    "--skip-manifest", p("m.json"), "--out", p("out"), "--why", p("why")]
            if names:
                open(p("names"), "w").write("\n".join(names) + "\n")
                args += ["--names", p("names")]
            r = subprocess.run(args, capture_output=True, text=True, check=True)
            return open(p("out")).read().split(), json.loads(r.stderr)

    def test_rules_and_order(self):
        dev = next(f"python3-d{i}" for i in range(1000) if is_dev(f"python3-d{i}"))
        tx = [stanza("python3-same", "1.0-3"), stanza("python3-later", "2:1.1-1"), stanza("python3-fresh", "0.5-1"),
              stanza("python3-big", "3.0-1"), stanza("python3-regex", "2024.1-1"), stanza("python3-django-foo", "1-1"),
              stanza("python3-sib", "9-1", source="devsrc"), stanza(dev, "9-1", source="devsrc"),
              stanza("python3-foo-doc", "1-1"), stanza("python3-nopy", "1-1"), stanza("tool", "1-1")]
        bw = [stanza("python3-same", "1.0-1"), stanza("python3-later", "1:1.0-1"), stanza("python3-big", "2.0-1")]
        dp = "usr/lib/python3/dist-packages/"
        contents = [(dp + "a.py", "python/python3-same"), (dp + "b.py", "python/python3-later"),
                    (dp + "c.py", "python/python3-fresh"), (dp + "d.py", "python/python3-big,python/python3-fresh"),
                    (dp + "e.py", "python/python3-big"), (dp + "f.py", "python/python3-big"),
                    (dp + "g.py", "python/python3-sib"), (dp + "h.py", "python/python3-regex"),
                    (dp + "i.txt", "python/python3-nopy"), ("usr/bin/x.py", "python/python3-nopy"), ("usr/share/tool/t.py", "utils/tool")]
        out, info = self.run_select(tx, bw, contents)
        # new names first (fresh), then changed by .py count (big 3 > newer 1); same version, dev source, site, Django,
        # -doc and no dist-packages .py left out
        self.assertEqual(out, ["python3-fresh", "python3-big", "python3-later"])
        self.assertEqual(info["left_out"]["same upstream version as bookworm"], 1)
        self.assertEqual(info["left_out"]["source of a dev-rule package"], 2)
        self.assertEqual(info["left_out"]["in the site-packages corpus"], 1)
        self.assertEqual(info["left_out"]["excluded"], 1)
        self.assertEqual(info["left_out"]["dbg/doc"], 1)
        self.assertEqual(info["left_out"]["no .py (Contents)"], 1)
        # --names: the list's order, every .py under usr/, -doc kept
        out, _ = self.run_select(tx + [stanza("tool-doc", "1-1")], bw,
                                 contents + [("usr/share/doc/tool-doc/examples/e.py", "doc/tool-doc")],
                                 names=["tool-doc", "tool", "python3-same"])
        self.assertEqual(out, ["tool-doc", "tool"])


if __name__ == "__main__":
    unittest.main()
