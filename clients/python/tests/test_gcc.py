"""A real compile: the host gcc packaged by scripts/cachepot-dist-toolchain
compiles a preprocessed file in the sandbox, through this module, to the same
bytes as the host gcc outside it and as the C CLI cachepot-dist-run (as
tests/parent/test_gcc_toolchain.sh does for the CLI). run-tests.sh runs it as
root and as uid 65534."""

import os
import subprocess

import pytest

import cachepot_sandbox as cs

PROG = r"""
#include <stdio.h>
#include <string.h>

struct point { int x, y; };

static int dot(struct point a, struct point b) { return a.x * b.x + a.y * b.y; }

int main(int argc, char **argv)
{
    struct point p = {argc, (int)strlen(argv[0])}, q = {3, 4};
    printf("dot = %d\n", dot(p, q));
    return 0;
}
"""


@pytest.mark.parametrize("flags", ["-O0", "-O2 -g -fdebug-prefix-map={w}=/build"])
def test_compile_matches_host_and_c_cli(helper, toolchain, bin_dir, tmp_path, flags):
    os.chdir(tmp_path)
    (tmp_path / "prog.c").write_text(PROG)
    subprocess.run(["gcc", "-E", "prog.c", "-o", "prog.i"], check=True)
    # With -g the object records the compile directory: map the host's to the
    # sandbox's /build (same flags on both sides), as distributed compilers do.
    flags = flags.format(w=tmp_path).split()
    compile_args = ["gcc", *flags, "-x", "cpp-output", "-c", "prog.i", "-o", "prog.o"]
    subprocess.run(["gcc", *flags, "-x", "cpp-output", "-c", "prog.i", "-o", "host.o"],
                   check=True)

    job = cs.Job(toolchain, compile_args, cwd="/build", env={"PATH": "/usr/bin:/bin"},
                 inputs=[cs.Input("prog.i", host_path=tmp_path / "prog.i")],
                 outputs=["prog.o"])
    (tmp_path / "py").mkdir()
    res = cs.run(job, str(tmp_path / "py"), helper=helper)
    assert res.exit.code == 0, res.stderr.decode()
    assert res.outputs == ["prog.o"]

    (tmp_path / "c").mkdir()
    subprocess.run([os.path.join(bin_dir, "cachepot-dist-run"), "--toolchain", toolchain,
                    "--input", "prog.i:/build/prog.i", "--output", "prog.o", "--cwd", "/build",
                    "--out-dir", "c", "--", *compile_args], check=True)

    py_obj = (tmp_path / "py/prog.o").read_bytes()
    assert py_obj == (tmp_path / "host.o").read_bytes(), "differs from the host's object"
    assert py_obj == (tmp_path / "c/prog.o").read_bytes(), "differs from the C CLI's object"
    assert len(py_obj) > 500
