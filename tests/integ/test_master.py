"""The master against a real embedded PostgreSQL: supervision, reload, stop."""
import os
import signal
import subprocess
import time

import pytest

import conftest
from conftest import MASTER, WHARF, wait_for


def test_status_lists_services(running):
    out = running.status()
    assert "master pid" in out
    assert "postgres" in out
    assert "running" in out


def test_kill9_child_is_restarted_and_logged(running):
    old = running.service_pids("postgres")
    assert len(old) == 1
    os.kill(old[0], signal.SIGKILL)

    def restarted():
        pids = running.service_pids("postgres")
        return pids and pids != old and "running" in running.status()
    wait_for(restarted, 60, "postgres restarted")
    log = running.read_log()
    assert f"service=postgres pid={old[0]} killed by signal 9" in log
    # The database is usable again after the restart.
    wait_for(lambda: subprocess.run(
        ["psql", "-X", "-h", os.path.join(running.dir, "run", "pgsql"),
         "-U", "wharf", "-d", "wharf", "-c", "select 1"],
        capture_output=True).returncode == 0, 60, "database back")


def test_migrations_applied(running):
    assert running.psql("select max(version) from schema_version") >= "1"
    tables = running.psql(
        "select string_agg(tablename, ',' order by tablename) "
        "from pg_tables where schemaname = 'public'").split(",")
    for t in ("domains", "users", "aliases", "mailboxes", "messages",
              "queue", "queue_recipients", "audit_log"):
        assert t in tables


def test_embedded_postgres_buffer_cache(running, fresh):
    """database_shared_buffers reaches the embedded cluster (PostgreSQL's
    own default is 128MB, what the test instances set)."""
    assert running.psql("show shared_buffers") == "128MB"
    inst = fresh("database_shared_buffers = 24m").start()
    assert inst.psql("show shared_buffers") == "24MB"


def test_self_signed_certificate(running):
    cert = os.path.join(running.dir, "state", "tls", "cert.pem")
    key = os.path.join(running.dir, "state", "tls", "key.pem")
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    r = subprocess.run(["openssl", "x509", "-in", cert, "-noout",
                        "-subject", "-ext", "subjectAltName"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "mx.wharf.test" in r.stdout
    assert "DNS:mx.wharf.test" in r.stdout


def test_second_start_is_refused(running):
    r = subprocess.run([MASTER, "-f", "-c", running.conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "already running" in r.stderr


def test_reload_applies_changed_key(running):
    before = running.read_log().count("reloaded:")
    running.wharf("config", "set", "log_level=debug", check=True)
    r = running.wharf("reload")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: running.read_log().count("reloaded:") > before, 10,
             "reload logged")
    assert "changed=log_level" in running.read_log()
    assert "generation 2" in running.status() or \
        "generation=2" in running.read_log()


def test_reload_refuses_broken_file(running):
    with open(running.conf) as f:
        good = f.read()
    with open(running.conf, "a") as f:
        f.write("mesage_size_limit = 10\n")
    try:
        r = running.wharf("reload")
        assert r.returncode != 0
        assert "mesage_size_limit" in r.stdout + r.stderr
        assert "reload refused" in running.read_log()
        assert "running" in running.status()
    finally:
        with open(running.conf, "w") as f:
            f.write(good)


def test_reload_refuses_restart_only_key(running):
    with open(running.conf) as f:
        good = f.read()
    with open(running.conf, "a") as f:
        f.write(f"state_dir = {running.dir}/elsewhere\n")
    try:
        r = running.wharf("reload")
        assert r.returncode != 0
        assert "needs a restart" in r.stdout + r.stderr
    finally:
        with open(running.conf, "w") as f:
            f.write(good)


def test_config_check_catches_typo(running):
    bad = os.path.join(running.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("# comment\nmessage_size_limit = 1000000\nmyhostnme = x\n")
    r = subprocess.run([WHARF, "-c", bad, "config", "check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "bad.conf:3" in r.stderr
    assert "myhostnme" in r.stderr


def test_user_add_stores_argon2id_hash(running):
    import argon2
    running.wharf("domain", "add", "wharf.test", check=True)
    r = running.wharf("user", "add", "alice@wharf.test",
                      input="correct horse battery\n")
    assert r.returncode == 0, r.stderr
    h = running.psql("select password_hash from users u join domains d "
                     "on d.id = u.domain_id where u.localpart = 'alice' "
                     "and d.name = 'wharf.test'")
    assert h.startswith("$argon2id$")
    assert argon2.PasswordHasher().verify(h, "correct horse battery")
    try:
        argon2.PasswordHasher().verify(h, "wrong")
        assert False, "wrong password verified"
    except argon2.exceptions.VerifyMismatchError:
        pass
    out = running.wharf("user", "list", check=True).stdout
    assert "alice@wharf.test" in out


def test_sigterm_stops_everything(fresh):
    inst = fresh().start()
    assert inst.processes(), "no processes found for the instance"
    inst.proc.send_signal(signal.SIGTERM)
    assert inst.proc.wait(timeout=60) == 0
    time.sleep(0.5)
    assert inst.processes() == []
    assert not os.path.exists(os.path.join(inst.dir, "run", "master.pid"))
    assert not os.path.exists(os.path.join(inst.dir, "run", "master.sock"))


def test_wharf_start_stop_daemon_mode(fresh):
    inst = fresh()
    r = inst.wharf("start", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "running" in inst.status()
    r = inst.wharf("stop", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: inst.processes() == [], 30, "all processes gone")
    assert inst.wharf("status").returncode == 3


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to be nobody")
def test_non_root_master(fresh):
    """An ordinary user runs a private instance: postgres runs as them."""
    inst = fresh()
    subprocess.run(["chown", "-R", "nobody", inst.dir], check=True)
    inst.logf = open(inst.log, "ab")
    inst.proc = subprocess.Popen(
        ["runuser", "-u", "nobody", "--", MASTER, "-f", "-c", inst.conf],
        stdin=subprocess.DEVNULL, stdout=inst.logf, stderr=inst.logf,
        start_new_session=True, env=inst.env)
    conftest.POPEN_PIDS.add(inst.proc.pid)
    wait_for(lambda: "ready:" in inst.read_log(), 120, "master ready")
    out = inst.status()
    assert "postgres" in out and "authd" in out
    import pwd
    nobody = pwd.getpwnam("nobody").pw_uid
    for name in ("postgres", "authd"):
        pid = inst.service_pids(name)[0]
        assert os.stat(f"/proc/{pid}").st_uid == nobody
    r = inst.wharf("stop", timeout=120)
    assert r.returncode == 0, r.stderr
    assert inst.proc.wait(timeout=60) == 0
