"""tb/cosim/runner.py: what makes two simulator builds differ (the build cache's key)."""

from pathlib import Path

from tb.cosim import runner


def _key(sim: str, args: list[str], src: Path) -> str:
    return runner._build_key(sim, "top", [src], runner._key_options(sim, args, waves=False))


def test_a_build_for_this_cpu_is_not_reused_on_another(tmp_path, monkeypatch):
    src = tmp_path / "top.v"
    src.write_text("module top; endmodule\n")
    native = ["--timing", *runner.VERILATOR_CFLAGS, *runner.VERILATOR_NATIVE]
    monkeypatch.setattr(runner, "_host_cpu", lambda: "cpu A | sse2 avx2")
    a = _key("verilator", native, src)
    plain_a = _key("verilator", ["--timing", *runner.VERILATOR_CFLAGS], src)
    monkeypatch.setattr(runner, "_host_cpu", lambda: "cpu B | sse2")
    assert _key("verilator", native, src) != a
    # a portable build (no -march=native) does not depend on the CPU
    assert _key("verilator", ["--timing", *runner.VERILATOR_CFLAGS], src) == plain_a
    assert plain_a != a


def test_host_cpu_names_the_cpu_and_its_instruction_set():
    cpu = runner._host_cpu()
    assert cpu
    if Path("/proc/cpuinfo").exists():
        flags = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("flags")]
        if flags:
            assert flags[0].split(":", 1)[1].strip() in cpu


def test_verilator_builds_use_ccache_when_it_is_installed(tmp_path):
    """``OBJCACHE=ccache`` reaches Verilator's makefile when ccache is on the PATH (the set-up
    installs it when it can), not when it is missing, and a caller's own setting wins."""
    from hdl.toolchain import verilator_env

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ccache").write_text("#!/bin/sh\nexec \"$@\"\n")
    (fake / "ccache").chmod(0o755)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert verilator_env({"PATH": str(fake)})["OBJCACHE"] == "ccache"
    assert "OBJCACHE" not in verilator_env({"PATH": str(empty)})
    assert verilator_env({"PATH": str(fake), "OBJCACHE": ""})["OBJCACHE"] == ""
