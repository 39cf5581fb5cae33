import subprocess
import sys

MODULES = ["bodies", "elastic", "fields", "hec", "lines", "loki", "otlp", "record", "syslog"]


def test_protocols_import_no_django():
    code = (
        "import sys\n"
        + "".join(f"import apps.streams.protocols.{name}\n" for name in MODULES)
        + "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        + "assert not loaded, loaded\n"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE either
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="."
    )
    assert result.returncode == 0, result.stderr
