"""Unit tests for corpus v3's Debian parts (issue 16): the strict licence rule, DEP-5 per-file licences, the v2
hash exclusion, the choice of binary packages and a source package read from real (synthetic) tarballs.
  /usr/bin/python3 -m unittest native/py/test_corpus_v3.py"""
from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus_deb import dep5_licence, dep5_stanzas, installed_licence, licence_allowed  # noqa: E402
from corpus_debsrc import held_out_reason, one_source, parse_sources  # noqa: E402
from corpus_v3_select import is_v2_dev, parse_packages, select  # noqa: E402
from dedup import content_hash, hashes_of  # noqa: E402
from slim_manifest import dumps, slim  # noqa: E402
from v3_pack import assign_parts, deduplicate  # noqa: E402
from corpus_check import check_part, held_out_names, pkg_name  # noqa: E402

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 A
License: Expat

Files: demo/_compat/*
 tools/gpl_tool.py
Copyright: 2019 B
License: GPL-2+

Files: debian/*
Copyright: 2021 C
License: GPL-2+

License: Expat
 Permission is hereby granted...
"""

BODY = "def f(x):\n    return x + 1\n\n\n" + "".join(f"def g{i}(y):\n    return y * {i}\n\n" for i in range(20))


def add(tf: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


class Licences(unittest.TestCase):
    def test_strict_rule(self):
        for ok in ["Expat", "MIT", "BSD-3-clause", "BSD-2-Clause", "Apache-2.0", "ISC", "0BSD", "PSF-2",
                   "GPL-2+ or Expat", "Expat and BSD-3-clause"]:
            self.assertTrue(licence_allowed(ok), ok)
        for bad in ["GPL-2+", "LGPL-3", "MPL-2.0", "Expat and GPL-3", "public-domain", "X11", "BSD", "", "CC0-1.0",
                    "Apache-2.0 with LLVM exception"]:
            self.assertFalse(licence_allowed(bad), bad)

    def test_dep5_last_matching_stanza_wins(self):
        st = dep5_stanzas(COPYRIGHT)
        self.assertEqual([l for _, l in st], ["Expat", "GPL-2+", "GPL-2+"])
        self.assertEqual(dep5_licence(st, "demo/core.py"), "Expat")
        self.assertEqual(dep5_licence(st, "demo/_compat/six.py"), "GPL-2+")
        self.assertEqual(dep5_licence(st, "tools/gpl_tool.py"), "GPL-2+")
        self.assertIsNone(dep5_stanzas("This package was debianized by ...\nLicense: MIT\n"))
        # installed paths lose the upstream's first directory (src/, demo-1.0/): still matched
        self.assertEqual(installed_licence([(["src/demo/_compat/*"], "GPL-2+"), (["*"], "MIT")], "demo/_compat/x.py"), "MIT")
        self.assertEqual(installed_licence([(["*"], "MIT"), (["src/demo/_compat/*"], "GPL-2+")], "demo/_compat/x.py"), "GPL-2+")
        # Debian's own stanza and a directory-wide one (tests/*) cover no installed module
        st2 = [(["*"], "MIT"), (["tests/*", "docs/*"], "GPL-3"), (["debian/*"], "GPL-2+")]
        self.assertEqual(installed_licence(st2, "demo/core.py"), "MIT")
        self.assertEqual(installed_licence(st2, "tests/test_x.py"), "GPL-3")


class Hashes(unittest.TestCase):
    def test_content_hash_ignores_line_end_whitespace_only(self):
        self.assertEqual(content_hash("a = 1  \nb = 2\n"), content_hash("a = 1\nb = 2"))
        self.assertNotEqual(content_hash("a = 1\nb = 2"), content_hash("a = 1\nb = 3"))
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "v2.jsonl")
            with open(p, "w") as f:
                f.write(json.dumps({"pkg": "x@1", "path": "a.py", "lang": "python", "text": "a = 1\n"}) + "\n")
            self.assertEqual(hashes_of([p]), {content_hash("a = 1")})


class Selection(unittest.TestCase):
    PACKAGES = "\n\n".join([
        "Package: python3-a\nSource: a\nArchitecture: all\nSize: 1000",
        "Package: python3-a-ext\nSource: a\nArchitecture: amd64\nSize: 5000",
        "Package: python3-devpkg\nSource: devsrc\nArchitecture: all\nSize: 1000",
        "Package: python3-django-foo\nArchitecture: all\nSize: 1000",
        "Package: python3-huge\nArchitecture: amd64\nSize: 90000000",
        "Package: python3-b-doc\nSource: b\nArchitecture: all\nSize: 1000",
        "Package: python3-numpy\nArchitecture: amd64\nSize: 1000",
        "Package: node-x\nArchitecture: all\nSize: 1000",
    ])

    def test_select_leaves_out_v2_dev_sources_site_packages_and_exclusions(self):
        pkgs = parse_packages(self.PACKAGES)
        # a v2 name that the dev rule holds out, made to share python3-devpkg's source
        dev_name = next(f"python3-d{i}" for i in range(10_000) if is_v2_dev(f"python3-d{i}"))
        pkgs[dev_name] = {"source": "devsrc", "arch": "all", "size": 10}
        pkgs["python3-a2"] = {"source": "a", "arch": "all", "size": 10}
        chosen, why = select(pkgs, {dev_name, "python3-a2"}, {"numpy"}, 20_000_000)
        self.assertEqual(chosen, ["python3-a", "python3-a-ext"])
        self.assertEqual(why, {"source of a v2 dev package": 1, "excluded": 1, "too large": 1, "dbg/doc": 1,
                               "in the site-packages corpus": 1})


class SourcePackage(unittest.TestCase):
    def test_one_source_reads_upstream_py_with_per_file_licences(self):
        with tempfile.TemporaryDirectory() as d:
            with tarfile.open(os.path.join(d, "demo_1.0-1.debian.tar.xz"), "w:xz") as tf:
                add(tf, "debian/copyright", COPYRIGHT)
            with tarfile.open(os.path.join(d, "demo_1.0.orig.tar.gz"), "w:gz") as tf:
                add(tf, "demo-1.0/demo/core.py", BODY)
                add(tf, "demo-1.0/demo/_compat/six.py", BODY.replace("f(x)", "h(x)"))  # GPL stanza
                add(tf, "demo-1.0/tests/test_core.py", BODY.replace("f(x)", "test_f(x)"))
                add(tf, "demo-1.0/tests/test_web.py", "import django\n" + BODY)  # hard exclusion
                add(tf, "demo-1.0/tools/gpl_tool.py", BODY)  # GPL stanza
                add(tf, "demo-1.0/demo/installed.py", BODY.replace("f(x)", "k(x)"))  # in v2 as an installed module
                add(tf, "demo-1.0/tiny.py", "x = 1\n")
                add(tf, "demo-1.0/README.md", "# not python\n")
            src = {"name": "demo", "version": "1.0-1", "binaries": ["python3-demo"]}
            entry, docs = one_source((src, d, {"demo/installed.py"}))
        self.assertEqual(sorted(p for _, _, p, _ in docs), ["demo/core.py", "tests/test_core.py"])
        self.assertEqual(docs[0][0], "src:demo@1.0-1")
        self.assertEqual(entry["dropped"], {"licence": 2, "excluded": 1, "in_v2": 1, "size": 1})
        self.assertEqual(entry["kept_by_licence"], {"Expat": 2})

    def test_missing_tarball_and_broken_tarball_are_reported_not_raised(self):
        src = {"name": "gone", "version": "1", "binaries": ["python3-gone"]}
        self.assertIn("404", one_source((src, None, set()))[0]["reason"])
        with tempfile.TemporaryDirectory() as d:
            for name, data in [("gone_1.orig.tar.gz", b"not a tarball"), ("gone_1-1.debian.tar.xz", b"nor this")]:
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            entry, docs = one_source((src, d, set()))
        self.assertTrue(entry["reason"].startswith("unreadable tarball"), entry)
        self.assertEqual(docs, [])

    def test_sources_index_and_held_out_rules(self):
        text = ("Package: demo\nBinary: python3-demo, demo-doc\nVersion: 1.0-1\nDirectory: pool/main/d/demo\n"
                "Checksums-Sha256:\n aa 100 demo_1.0-1.dsc\n bb 2000 demo_1.0.orig.tar.gz\n\n"
                "Package: cli\nBinary: cli-tool\nVersion: 2\nDirectory: pool/main/c/cli\nChecksums-Sha256:\n cc 5 cli_2.tar.xz\n")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "Sources")
            with open(p, "w") as f:
                f.write(text)
            srcs = parse_sources(p, 10_000)
            self.assertEqual([(s["name"], s["bytes"], s["dir"]) for s in srcs], [("demo", 2100, "pool/main/d/demo")])
            self.assertEqual(parse_sources(p, 1000), [])
        self.assertIsNone(held_out_reason(srcs[0], set()))
        self.assertEqual(held_out_reason(srcs[0], {"demo"}), "in the site-packages corpus")
        self.assertEqual(held_out_reason({**srcs[0], "name": "django-demo"}, set()), "excluded")
        dev = next(f"python3-d{i}" for i in range(10_000) if is_v2_dev(f"python3-d{i}"))
        self.assertEqual(held_out_reason({**srcs[0], "binaries": [dev]}, set()), "held out (Debian dev)")


class Pack(unittest.TestCase):
    def rec(self, pkg, path, text, lang="python"):
        return {"pkg": pkg, "path": path, "lang": lang, "text": text}

    def test_deduplicate_across_inputs_and_against_v2(self):
        a = BODY
        b = BODY.replace("g19", "q19")  # near a
        c = "".join(f"def other{i}(z):\n    return z - {i}\n\n" for i in range(30))
        v2_text = "".join(f"class K{i}:\n    pass\n\n" for i in range(30))
        first = [self.rec("p@1", "a.py", a), self.rec("p@1", "v2.py", v2_text + "\n\n")]
        second = [self.rec("q@1", "a_copy.py", a + "   \n"), self.rec("q@1", "b.py", b), self.rec("q@1", "c.py", c),
                  self.rec("r@1", "t.py", "# from the human-eval set\n" + c.replace("other", "o")),
                  self.rec("rx@4.1.0", "index.js", "var x = 1;\n" * 40, "javascript"),
                  self.rec("rxjs-compat@6.6.7", "index.js", "var y = 2;\n" * 40, "javascript"),
                  self.rec("@effect/schema@0.1.0", "index.ts", "let z = 3;\n" * 40, "typescript"),
                  self.rec("use-effect-event@1.0.0", "index.ts", "let w = 4;\n" * 40, "typescript")]
        kept, counts = deduplicate([first, second], {content_hash(v2_text)})
        self.assertEqual([(r["pkg"], r["path"]) for r in kept], [("p@1", "a.py"), ("q@1", "c.py"), ("use-effect-event@1.0.0", "index.ts")])
        self.assertEqual(counts, {"excluded": 4, "dup_v2": 1, "dup_exact": 1, "dup_near": 1})

    def test_parts_keep_packages_whole_and_balance_bytes(self):
        recs = [self.rec(f"p{i}@1", f"f{j}.py", "x" * (100 * (i + 1))) for i in range(6) for j in range(2)]
        parts = assign_parts(recs, 3)
        self.assertEqual(sum(len(p) for p in parts), len(recs))
        pkgs = [{r["pkg"] for r in p} for p in parts]
        self.assertEqual(sum(len(x) for x in pkgs), 6)  # no package in two parts
        self.assertEqual(sorted(sum(len(r["text"]) for r in p) for p in parts), [1400, 1400, 1400])


class SlimManifest(unittest.TestCase):
    def test_keeps_licences_and_counts_drops_per_package_detail(self):
        full = {"generatedBy": "x", "totals": {"train": {"files": 3}, "droppedByReason": {"dts": 5}},
                "packages": [{"name": "a", "version": "1.0.0", "license": "MIT", "status": "ok", "filesKept": 3,
                              "bytesKept": 900, "filesKeptTs": 3, "dropped": {"dts": 5}, "tarballLicense": "MIT"}],
                "refused": [{"module": "g@1", "deb": "node-g", "dir": "usr/share/nodejs/g", "reason": "licence (GPL-3+)"}],
                "empty": []}
        s = slim(full)
        self.assertEqual(s["packages"], [{"name": "a", "version": "1.0.0", "license": "MIT", "status": "ok",
                                          "filesKept": 3, "bytesKept": 900}])
        self.assertEqual(s["refused"], [{"module": "g@1", "deb": "node-g", "reason": "licence (GPL-3+)"}])
        self.assertEqual(s["totals"], full["totals"])
        text = dumps(s)
        self.assertEqual(json.loads(text), s)
        self.assertEqual(len(text.splitlines()), 1 + 2 + 3 + 3 + 1 + 1)  # {, 2 scalars, 2 lists of one entry (3 lines each), [], }


class Check(unittest.TestCase):
    """corpus_check.py: the checks run on packed parts before they leave the machine."""

    def test_flags_excluded_held_out_and_known_records(self):
        import lzma

        with tempfile.TemporaryDirectory() as d:
            lst = os.path.join(d, "list.json")
            with open(lst, "w") as f:
                json.dump({"packages": [{"name": "@s/dev-pkg", "split": "dev"}, {"name": "aside-pkg", "split": "aside"},
                                        {"name": "ok", "split": "train"}]}, f)
            known_text = "export const k = 1;\n" * 30
            with open(os.path.join(d, "v3.jsonl"), "w") as f:
                f.write(json.dumps({"pkg": "old@1", "path": "k.js", "lang": "javascript", "text": known_text}) + "\n")
            recs = [("ok@1.0.0", "a.js", "let a = 1;\n" * 30), ("ok@1.0.0", "b.js", "// see django docs\nlet b;\n"),
                    ("@s/dev-pkg@2.0.0", "c.ts", "let c = 3;\n" * 30), ("aside-pkg@1.0.0", "d.js", "let d;\n"),
                    ("other@1.0.0", "k.js", known_text + "  \n"), ("rxjs-compat@6.0.0", "e.js", "let e;\n")]
            part = os.path.join(d, "part1.jsonl.xz")
            with lzma.open(part, "wt") as f:
                for pkg, path, text in recs:
                    f.write(json.dumps({"pkg": pkg, "path": path, "lang": "javascript", "text": text}) + "\n")
                f.write("{not json\n")
            held = held_out_names([lst])
            self.assertEqual(held, {"@s/dev-pkg", "aside-pkg"})
            self.assertEqual(pkg_name("@s/dev-pkg@2.0.0"), "@s/dev-pkg")
            c = check_part(part, held, hashes_of([os.path.join(d, "v3.jsonl")]))
            self.assertEqual({k: c[k] for k in ("records", "excluded", "held_out", "known", "bad")},
                             {"records": 6, "excluded": 2, "held_out": 2, "known": 1, "bad": 1})

    def test_held_out_list_as_json_gz_gives_the_same_check(self):
        """The npm tier lists are stored as .json.gz: --held-out reads one by its suffix, with the same result."""
        import gzip
        import lzma
        import subprocess

        with tempfile.TemporaryDirectory() as d:
            text = json.dumps({"packages": [{"name": "@s/dev-pkg", "split": "dev"}, {"name": "aside-pkg", "split": "aside"},
                                            {"name": "ok", "split": "train"}]}, indent=1) + "\n"
            lst, lst_gz = os.path.join(d, "list.json"), os.path.join(d, "list.json.gz")
            with open(lst, "w") as f:
                f.write(text)
            with open(lst_gz, "wb") as f:
                f.write(gzip.compress(text.encode(), mtime=0))
            self.assertEqual(held_out_names([lst_gz]), held_out_names([lst]))
            self.assertEqual(held_out_names([lst_gz]), {"@s/dev-pkg", "aside-pkg"})
            part = os.path.join(d, "part1.jsonl.xz")
            with lzma.open(part, "wt") as f:
                for pkg in ("ok@1.0.0", "aside-pkg@1.0.0"):
                    f.write(json.dumps({"pkg": pkg, "path": "a.js", "lang": "javascript", "text": "let a = 1;\n" * 30}) + "\n")
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus_check.py")
            runs = [subprocess.run([sys.executable, script, "--held-out", x, "--", part], capture_output=True, text=True)
                    for x in (lst, lst_gz)]
            self.assertEqual([r.returncode for r in runs], [1, 1])  # the aside package's record fails the check
            self.assertEqual(runs[0].stdout, runs[1].stdout)
            self.assertIn("held-out 1", runs[1].stdout)


if __name__ == "__main__":
    unittest.main()
