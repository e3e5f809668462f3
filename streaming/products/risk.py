"""transaction-risk: a fraud score for each card transaction from the customer's own history.

Four signals, each in [0, 1], combined as independent evidence (1 - prod(1 - w*s)):
amount far above the customer's rolling profile, a burst of transactions (velocity), a
card used from another region than it was issued in, and a device never seen before.
The generator's fraud labels are never read here; they are only used to evaluate.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from tollgate.events import CardTransaction

VELOCITY_WINDOW_S = 300.0
KNOWN_DEVICES_KEPT = 16
BROWSING_SESSIONS_KEPT = 8
# A device stays "new" for a while unless it browsed: a fraudster's device only pays, and
# its second payment is no more trustworthy than its first.
NEW_DEVICE_S = 1800.0
# How far each signal alone can push the score. Legit customers travel and pay twice in a
# row, so a geo mismatch or a burst alone stays "medium"; a large amount spike or a device
# that pays without ever having browsed is "high" alone, and any two together are.
WEIGHTS = {"amount_spike": 0.8, "new_device": 0.6, "geo_mismatch": 0.4, "velocity": 0.3}
# An amount this many times the customer's typical (geometric mean) amount is a spike.
SPIKE_RATIO = (8.0, 20.0)
# Lower bounds of each risk level; "high" and "critical" count as flagged.
LEVELS = ((0.85, "critical"), (0.6, "high"), (0.3, "medium"), (0.0, "low"))
FLAGGED_LEVELS = frozenset({"high", "critical"})
_W_SPIKE, _W_VELOCITY = WEIGHTS["amount_spike"], WEIGHTS["velocity"]
_W_GEO, _W_NEW_DEVICE = WEIGHTS["geo_mismatch"], WEIGHTS["new_device"]
_SPIKE_LOG = (math.log(SPIKE_RATIO[0]), math.log(SPIKE_RATIO[1]))


@dataclass(slots=True)
class RiskProfile:
    """What a customer's past transactions say is normal for them (bounded in size)."""

    count: int = 0
    mean_log_amount: float = 0.0
    m2_log_amount: float = 0.0
    recent_at: deque = field(default_factory=deque)
    devices: dict = field(default_factory=dict)  # device_id -> (first seen, has browsed)
    sessions: dict = field(default_factory=dict)  # recent sessions the customer browsed in

    def std_log_amount(self) -> float:
        return math.sqrt(self.m2_log_amount / (self.count - 1)) if self.count > 1 else 0.0


def profile_state(p: RiskProfile) -> tuple:
    """`p` as plain values, for a snapshot (`profile_from_state` restores it exactly)."""
    return (p.count, p.mean_log_amount, p.m2_log_amount, tuple(p.recent_at), p.devices, p.sessions)


def profile_from_state(state: tuple) -> RiskProfile:
    count, mean, m2, recent_at, devices, sessions = state
    return RiskProfile(count, mean, m2, deque(recent_at), devices, sessions)


class RiskScore(NamedTuple):
    fraud_score: float
    risk_level: str
    risk_reasons: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return self.risk_level in FLAGGED_LEVELS


def score_transaction(profile: RiskProfile, tx: CardTransaction) -> RiskScore:
    """Score `tx` against `profile`, then add it to the profile."""
    p, at = tx.payload, tx.event_time.timestamp()
    log_amount = math.log1p(p.amount_cents)
    # Each signal s in [0, 1] leaves 1 - weight * s of `keep` (a signal at 0 leaves it
    # as it is); one at 0.5 or more is a reason, listed in name order.
    keep, reasons = 1.0, []
    if profile.count >= 1:
        # Far above their habit, in spreads (once there is a spread) or as a plain ratio.
        above = log_amount - profile.mean_log_amount
        spike = _ramp(above, _SPIKE_LOG[0], _SPIKE_LOG[1])
        if profile.count >= 3:
            # A floor on the spread stops a customer with identical amounts flagging cents.
            spike = max(spike, _ramp(above / max(profile.std_log_amount(), 0.25), 3.0, 6.0))
        keep *= 1.0 - _W_SPIKE * spike
        if spike >= 0.5:
            reasons.append("amount_spike")
    recent_at = profile.recent_at
    while recent_at and recent_at[0] < at - VELOCITY_WINDOW_S:
        recent_at.popleft()
    velocity = _ramp(len(recent_at), 2, 4)
    keep *= 1.0 - _W_VELOCITY * velocity
    if p.card_region != p.ip_region:
        keep *= 1.0 - _W_GEO
        reasons.append("geo_mismatch")
    if profile.count >= 2:
        # A new phone is normal when the customer shopped with it first: suspicious is a
        # device that has only ever paid, in a session where nobody browsed.
        first_seen, browsed = profile.devices.get(tx.device_id, (at, False))
        fresh = not browsed and at - first_seen < NEW_DEVICE_S
        if fresh and tx.session_id not in profile.sessions:
            keep *= 1.0 - _W_NEW_DEVICE
            reasons.append("new_device")
    if velocity >= 0.5:
        reasons.append("velocity")
    score = round(min(1.0, max(0.0, 1.0 - keep)), 4)
    _learn(profile, tx, log_amount, at)
    return RiskScore(score, _level(score), tuple(reasons))


def risk_row(tx: CardTransaction, score: RiskScore) -> dict:
    """The live store row (catalog columns of transaction-risk, less processed_at)."""
    return {
        "transaction_id": tx.payload.transaction_id,
        "customer_id": tx.customer_id,
        "region": tx.region,
        "event_at": tx.event_time,
        "amount_cents": tx.payload.amount_cents,
        "merchant_category": tx.payload.merchant_category,
        "fraud_score": score.fraud_score,
        "risk_level": score.risk_level,
        "risk_reasons": ",".join(score.risk_reasons),
    }


def _learn(profile: RiskProfile, tx: CardTransaction, log_amount: float, at: float) -> None:
    _learn_amount(profile, log_amount)
    profile.recent_at.append(at)
    note_device(profile, tx.device_id, at, browsed=False)


def note_spend(profile: RiskProfile, amount_cents: int) -> None:
    """Learn from what the customer spends shopping (a purchase), not only from payments."""
    _learn_amount(profile, math.log1p(amount_cents))


def _learn_amount(profile: RiskProfile, log_amount: float) -> None:
    # Welford's update: a running mean and variance without keeping the amounts.
    profile.count += 1
    delta = log_amount - profile.mean_log_amount
    profile.mean_log_amount += delta / profile.count
    profile.m2_log_amount += delta * (log_amount - profile.mean_log_amount)


def note_browsing(profile: RiskProfile, device_id: str, session_id: str, at: float) -> None:
    """Remember a session and device the customer browsed with (any behaviour event)."""
    sessions = profile.sessions
    if session_id not in sessions:
        sessions[session_id] = None
        if len(sessions) > BROWSING_SESSIONS_KEPT:
            sessions.pop(next(iter(sessions)))
    # The usual case, without a call per event: a device they browsed with before.
    devices = profile.devices
    known = devices.get(device_id)
    if known is not None and known[1] and known[0] <= at:
        devices[device_id] = devices.pop(device_id)  # now the most recent (cheaper than asking)
        return
    note_device(profile, device_id, at)


def note_device(profile: RiskProfile, device_id: str, at: float, browsed: bool = True) -> None:
    """Remember a device the customer used (browsing or paying), keeping the latest few."""
    devices = profile.devices
    known = devices.get(device_id)
    if known is not None and known[0] <= at and (known[1] or not browsed):
        # Nothing new to learn; it only has to become the most recent entry.
        devices[device_id] = devices.pop(device_id)
        return
    first_seen, had_browsed = profile.devices.pop(device_id, (at, False))
    profile.devices[device_id] = (min(first_seen, at), had_browsed or browsed)
    if len(profile.devices) > KNOWN_DEVICES_KEPT:
        profile.devices.pop(next(iter(profile.devices)))


def _level(score: float) -> str:
    for bound, name in LEVELS:
        if score >= bound:
            return name
    raise ValueError(score)  # scores are in [0, 1]


def _ramp(x: float, lo: float, hi: float) -> float:
    return 0.0 if x <= lo else 1.0 if x >= hi else (x - lo) / (hi - lo)
