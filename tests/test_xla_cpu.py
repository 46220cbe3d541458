"""tldomain/xla_cpu.py: default XLA:CPU options never override the user's."""

import os

from tldomain import xla_cpu

OPTION = xla_cpu.DEFAULT_FLAGS[0].split("=", 1)[0]


def test_defaults_are_added_to_other_flags():
  flags = xla_cpu.with_defaults("--xla_force_host_platform_device_count=2", (0, 10))
  assert flags.split() == ["--xla_force_host_platform_device_count=2", *xla_cpu.DEFAULT_FLAGS]


def test_an_option_the_user_set_is_kept():
  assert xla_cpu.with_defaults(f"{OPTION}=", (0, 11)) == f"{OPTION}="


def test_old_jaxlib_gets_no_options_it_may_not_know():
  assert xla_cpu.with_defaults("", (0, 9)) == ""


def test_opt_out_and_import_time_effect():
  environ = {"TLDOMAIN_XLA_DEFAULTS": "0"}
  xla_cpu.add_default_flags(environ)
  assert "XLA_FLAGS" not in environ
  environ = {}
  xla_cpu.add_default_flags(environ)
  assert environ["XLA_FLAGS"].split() == list(xla_cpu.DEFAULT_FLAGS)
  if os.environ.get("TLDOMAIN_XLA_DEFAULTS", "1") != "0":
    assert OPTION in os.environ.get("XLA_FLAGS", "")  # `import tldomain` added it here too
