"""scripts/lib/common.sh's write_atomic, run by bash as the scripts run it (set -euo pipefail).

Run: .venv/bin/python -m unittest discover -s tests/python
"""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

COMMON = Path(__file__).resolve().parents[2] / "scripts" / "lib" / "common.sh"

# Producers the cases call by name: a good one, and ones that fail in each way a script's can.
PRODUCERS = r"""
good() { echo "new line 1"; echo "new line 2"; }
fails_midway() { echo "partial"; false; echo "after the failure"; }
dies() { echo "partial"; die "valgrind failed"; }
pipe_fails() { echo "partial" | grep -q nothing-matches | cat; echo "after the pipe"; }
file=the-callers-file tmp=the-callers-tmp status=the-callers-status
uses_globals() { echo "$file $tmp $status"; }
"""


def write_atomic(target: Path, producer: str) -> subprocess.CompletedProcess:
    """`write_atomic TARGET PRODUCER` in a script with the projects' shell options."""
    script = f"set -euo pipefail\nPROG=test\n. {COMMON}\n{PRODUCERS}\nwrite_atomic \"$1\" {producer}\necho done\n"
    return subprocess.run(["bash", "-c", script, "bash", str(target)], capture_output=True, text=True)


class WriteAtomicTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.target = Path(self.dir.name) / "report.md"
        self.target.write_text("the old report\n")

    def tearDown(self):
        self.dir.cleanup()

    def assert_only_target(self):
        self.assertEqual(os.listdir(self.dir.name), ["report.md"], "a temporary file was left behind")

    def test_a_good_producer_replaces_the_file(self):
        out = write_atomic(self.target, "good")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "done\n")
        self.assertEqual(self.target.read_text(), "new line 1\nnew line 2\n")
        self.assertEqual(self.target.stat().st_mode & 0o777, 0o644)
        self.assert_only_target()

    def test_the_producer_sees_the_callers_variables(self):
        out = write_atomic(self.target, "uses_globals")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.target.read_text(), "the-callers-file the-callers-tmp the-callers-status\n")

    def test_a_failing_producer_leaves_the_old_file_and_stops_the_script(self):
        for producer in ["fails_midway", "dies", "pipe_fails"]:
            with self.subTest(producer=producer):
                out = write_atomic(self.target, producer)
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertEqual(out.stdout, "", "the script went on after the failure")
                self.assertIn("report.md not written", out.stderr)
                self.assertEqual(self.target.read_text(), "the old report\n")
                self.assert_only_target()

    def test_the_producers_own_message_comes_first(self):
        out = write_atomic(self.target, "dies")
        self.assertEqual(out.stderr.splitlines()[0], "test: valgrind failed")

    def test_a_missing_folder_is_an_error_before_the_producer_runs(self):
        out = write_atomic(Path(self.dir.name) / "no-such-folder" / "x.md", "dies")
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot write in the folder of", out.stderr)
        self.assertNotIn("valgrind failed", out.stderr)


if __name__ == "__main__":
    unittest.main()
