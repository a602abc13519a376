"""Kill the relay (SIGKILL, in a child process) at each dangerous point, then relay normally.

Whatever the point, the ERP ends with exactly one document per posting key and every outbox row
is posted. The number of POSTs per key shows which sends had to be repeated: only the one the
ERP accepted while the relay died before marking it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models import Allocation, utcnow
from services.cashapp.models_outbox import Outbox
from services.cashapp.usecases.relay import relay_once
from shared.erp.http import HttpAdapter
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.erp.factories import seed_allocations
from tests.conftest import REPO

N = 3


def run_child(db: Engine, erp: FakeErp, fault: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CASHRECON_FAULT", None)
    if fault:
        env["CASHRECON_FAULT"] = fault
    url = db.url.render_as_string(hide_password=False)
    return subprocess.run([sys.executable, "-m", "tests.cashapp.erp.relay_child", url, erp.url, SECRET,
                           str(N)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def statuses(db: Engine) -> dict[str, str]:
    with Session(db) as s:
        return dict(s.execute(select(Outbox.posting_key, Outbox.status)).all())  # type: ignore[call-overload]


# (fault, ERP documents right after the crash, rows posted right after the crash,
#  POSTs per key in the end: which keys were sent twice)
CASES = {
    "before_send": ("before_send", 0, 0, (1, 1, 1)),
    "after_send": ("after_send@2", 2, 1, (1, 2, 1)),  # key 2: accepted by the ERP, never marked
    "after_mark": ("after_mark@2", 2, 2, (1, 1, 1)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_killed_relay_then_normal_relay_posts_each_key_exactly_once(
        outbox_db: Engine, erp: FakeErp, case: str) -> None:
    fault, docs_after_crash, posted_after_crash, posts_per_key = CASES[case]
    keys = seed_allocations(outbox_db, N)
    proc = run_child(outbox_db, erp, fault)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(erp.documents) == docs_after_crash
    assert list(statuses(outbox_db).values()).count("posted") == posted_after_crash
    # The dead relay's lease still holds: an immediate relay must not touch its rows.
    if posted_after_crash < N:
        assert relay_once(outbox_db, HttpAdapter(erp.url, SECRET, attempts=1), "rescuer").claimed == 0
    # Once the lease has run out, a normal relay finishes the job.
    res = relay_once(outbox_db, HttpAdapter(erp.url, SECRET, attempts=1), "rescuer",
                     now=utcnow() + timedelta(minutes=5))
    assert res.posted == N - posted_after_crash
    assert res.duplicates == (1 if case == "after_send" else 0)
    assert erp.documents_per_key() == dict.fromkeys(keys, 1)
    assert tuple(erp.posts[k] for k in keys) == posts_per_key
    assert set(statuses(outbox_db).values()) == {"posted"}
    with Session(outbox_db) as s:
        assert all(a.posted_at for a in s.exec(select(Allocation)).scalars())  # type: ignore[call-overload]


def test_child_without_fault_posts_everything(outbox_db: Engine, erp: FakeErp) -> None:
    keys = seed_allocations(outbox_db, N)
    proc = run_child(outbox_db, erp, None)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["posted"] == N
    assert erp.documents_per_key() == dict.fromkeys(keys, 1)
