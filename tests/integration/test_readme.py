"""The README's quick start, as written: every line of its second sh block runs
against `sked serve --demo` (the server `make run` starts), in a directory whose
./var is the server's data directory, and must exit 0 and print something.  So a
line that uses a fixed date before the series exist, a flag a command refuses, or a
listing that prints nothing fails here, on whatever date the suite runs."""
import os
import re
import subprocess

import skedtest

README = os.path.join(skedtest.HERE, "..", "..", "README.md")


def quick_start_commands():
    """The commands of the README's quick start: the sh block after 'alias sked=',
    with continuation lines joined and comments kept (bash drops them)."""
    with open(README) as f:
        text = f.read()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    block = next(b for b in blocks if "alias sked=" in b)
    joined = block.replace("\\\n", " ")
    return [l.strip() for l in joined.splitlines() if l.strip() and not l.startswith("alias sked=")]


def strip_comment(line):
    """The command without its trailing '# ...' (outside quotes), for messages."""
    out, quote = [], None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            break
        out.append(c)
    return "".join(out).strip()


class ReadmeQuickStart(skedtest.ServerTest):
    def test_every_line_works_as_written(self):
        cmds = quick_start_commands()
        self.assertGreater(len(cmds), 15, cmds)
        work = self.path("work")
        os.makedirs(work)
        srv = self.new_server("work/var", demo=True)
        srv.start()
        env = srv.cli_env()
        # the README's CLI finds the token in ./var, and its curl line names port 8080
        env.pop("SKED_TOKEN")
        env["SKED_DATA_DIR"] = "var"
        prelude = f'sked() {{ "{skedtest.SKED}" "$@"; }}\n'
        for line in cmds:
            cmd = line.replace("127.0.0.1:8080", f"127.0.0.1:{srv.port}")
            if cmd.startswith("curl "):
                cmd = cmd.replace("curl ", "curl -sf ", 1)
            with self.subTest(cmd=strip_comment(line)):
                p = subprocess.run(["bash", "-c", prelude + cmd], cwd=work, env=env, capture_output=True,
                                   text=True, timeout=60 * skedtest.SLOW)
                self.assertEqual(p.returncode, 0, f"{strip_comment(line)}\nstdout: {p.stdout[-2000:]}\n"
                                                  f"stderr: {p.stderr[-2000:]}")
                self.assertTrue(p.stdout.strip(), f"{strip_comment(line)} printed nothing; stderr: {p.stderr}")
                if line.startswith("sked calendar"):
                    # a week a person reads: no line per 15-s run of the background type
                    self.assertLess(len(p.stdout.splitlines()), 60, p.stdout[:3000])


if __name__ == "__main__":
    import unittest
    unittest.main()
