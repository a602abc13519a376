"""Pure domain of the reconciliation service: snapshots, reply reconciliation, AR reports.

No database, files, clock or environment in here: every function takes polars frames and plain
values (``cutoff`` / ``as_of`` are passed in) and returns frames or plain results.

Money is signed Int64 minor units with a currency column; invoices and deductions are positive,
credit notes and cash on account negative, and a customer's reply is read in the same sign
(positive = the customer owes us).
"""

from services.recon.domain.aging import (
    DEFAULT_BUCKETS,
    Bucket,
    aging,
    aging_buckets,
    aging_total,
    unapplied_and_on_account,
)
from services.recon.domain.balance import compare_balance, reconcile_balance
from services.recon.domain.batch import reconcile_replies
from services.recon.domain.cash import CASH_COLUMNS, CashAroundCutoff, cash_around_cutoff, empty_cash
from services.recon.domain.compare import compare_items, reconcile_items
from services.recon.domain.docnum import exact_key, flat_key, loose_key
from services.recon.domain.dso import dso, dso_countback, dso_standard, month_periods, round_ratio
from services.recon.domain.frames import ReconInputError
from services.recon.domain.kpi import auto_match_rate, exceptions_by_reason, time_to_resolve
from services.recon.domain.reasons import (
    Difference,
    DifferenceClass,
    ReconResult,
    ReplyKind,
    differences_frame,
)
from services.recon.domain.snapshot import (
    BALANCE_COLUMNS,
    SNAPSHOT_COLUMNS,
    as_of_snapshot,
    balances,
    snapshot_hash,
)

__all__ = [
    "BALANCE_COLUMNS",
    "CASH_COLUMNS",
    "DEFAULT_BUCKETS",
    "SNAPSHOT_COLUMNS",
    "Bucket",
    "CashAroundCutoff",
    "Difference",
    "DifferenceClass",
    "ReconInputError",
    "ReconResult",
    "ReplyKind",
    "aging",
    "aging_buckets",
    "aging_total",
    "as_of_snapshot",
    "auto_match_rate",
    "balances",
    "cash_around_cutoff",
    "compare_balance",
    "compare_items",
    "differences_frame",
    "dso",
    "dso_countback",
    "dso_standard",
    "empty_cash",
    "exact_key",
    "exceptions_by_reason",
    "flat_key",
    "loose_key",
    "month_periods",
    "reconcile_balance",
    "reconcile_items",
    "reconcile_replies",
    "round_ratio",
    "snapshot_hash",
    "time_to_resolve",
    "unapplied_and_on_account",
]
