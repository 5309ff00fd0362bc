"""Generate the demo products' seed CSVs, deterministically (fixed seed, fixed dates).

Run from the repository root:  python demo/scripts/generate_seeds.py
The CSVs it writes are committed; running it again reproduces them byte for byte.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import date, datetime, timedelta
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1]
SEED = 20260215
EPOCH = datetime(2026, 1, 1)


def write(product: str, name: str, header: list[str], rows: list[list[object]]) -> None:
    path = DEMO / product / "seeds" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def customer_360(rng: random.Random) -> None:
    first = [
        "Ada",
        "Ben",
        "Chloe",
        "Dev",
        "Eva",
        "Farid",
        "Gia",
        "Hugo",
        "Ines",
        "Jon",
        "Kai",
        "Lea",
    ]
    last = ["Ng", "Smith", "Garcia", "Okafor", "Muller", "Rossi", "Tanaka", "Silva", "Kowalski"]
    countries = ["US", "GB", "DE", "FR", "BR", "JP", "NG", "IN"]
    segments = ["consumer", "small_business", "enterprise"]
    customers = []
    for cid in range(1, 501):
        f, l_ = rng.choice(first), rng.choice(last)
        signup = EPOCH - timedelta(days=rng.randint(30, 900))
        customers.append(
            [
                cid,
                f,
                l_,
                f"{f}.{l_}.{cid}@example.com".lower(),
                signup.date(),
                rng.choice(countries),
                rng.choices(segments, [70, 25, 5])[0],
            ]
        )
    write(
        "customer-360",
        "raw_customers",
        ["customer_id", "first_name", "last_name", "email", "signup_date", "country", "segment"],
        customers,
    )
    txns = []
    for tid in range(1, 5001):
        cid = rng.randint(1, 500)
        when = EPOCH - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        amount = round(rng.lognormvariate(3.5, 0.9), 2)
        status = rng.choices(["completed", "refunded", "failed"], [90, 6, 4])[0]
        txns.append([tid, cid, ts(when), amount, rng.choice(["web", "store", "mobile"]), status])
    write(
        "customer-360",
        "raw_transactions",
        ["transaction_id", "customer_id", "transaction_at", "amount", "channel", "status"],
        txns,
    )
    tickets = []
    for kid in range(1, 801):
        cid = rng.randint(1, 500)
        opened = EPOCH - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        closed = opened + timedelta(hours=rng.randint(1, 240)) if rng.random() < 0.85 else None
        tickets.append(
            [
                kid,
                cid,
                ts(opened),
                ts(closed) if closed else "",
                rng.choice(["low", "medium", "high"]),
                "closed" if closed else "open",
                rng.randint(1, 5) if closed else "",
            ]
        )
    write(
        "customer-360",
        "raw_support_tickets",
        [
            "ticket_id",
            "customer_id",
            "opened_at",
            "closed_at",
            "priority",
            "status",
            "satisfaction_score",
        ],
        tickets,
    )


def iot_telemetry(rng: random.Random) -> None:
    types = ["temperature", "vibration", "pressure"]
    sites = ["plant-north", "plant-south", "plant-east"]
    sensors = []
    for sid in range(1, 61):
        equipment = (sid - 1) // 3 + 1
        sensors.append(
            [
                sid,
                equipment,
                types[(sid - 1) % 3],
                sites[equipment % 3],
                (EPOCH - timedelta(days=rng.randint(100, 1000))).date(),
            ]
        )
    write(
        "iot-telemetry",
        "raw_sensors",
        ["sensor_id", "equipment_id", "sensor_type", "site", "installed_on"],
        sensors,
    )
    base = {"temperature": 65.0, "vibration": 4.0, "pressure": 120.0}
    spread = {"temperature": 3.0, "vibration": 0.6, "pressure": 5.0}
    readings = []
    rid = 0
    for sid, _eq, kind, _site, _inst in sensors:
        for step in range(96):
            rid += 1
            value = rng.gauss(base[kind], spread[kind]) + math.sin(step / 8) * spread[kind] / 2
            if rng.random() < 0.01:
                value += spread[kind] * rng.choice([-1, 1]) * rng.uniform(6, 9)
            readings.append([rid, sid, ts(EPOCH + timedelta(minutes=15 * step)), round(value, 3)])
    write(
        "iot-telemetry", "raw_readings", ["reading_id", "sensor_id", "read_at", "value"], readings
    )
    maintenance = []
    for mid in range(1, 81):
        maintenance.append(
            [
                mid,
                rng.randint(1, 20),
                (EPOCH - timedelta(days=rng.randint(1, 400))).date(),
                rng.choice(["inspection", "repair", "replacement"]),
                round(rng.uniform(80, 4000), 2),
            ]
        )
    write(
        "iot-telemetry",
        "raw_maintenance",
        ["maintenance_id", "equipment_id", "performed_on", "maintenance_type", "cost"],
        maintenance,
    )


def financial_risk(rng: random.Random) -> None:
    ratings = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC"]
    sectors = ["banking", "energy", "technology", "retail", "utilities", "healthcare"]
    parties = [
        [
            cid,
            f"Counterparty {cid:03d}",
            rng.choices(ratings, [5, 10, 20, 30, 20, 10, 5])[0],
            rng.choice(sectors),
            rng.choice(["US", "GB", "DE", "JP", "SG"]),
        ]
        for cid in range(1, 41)
    ]
    write(
        "financial-risk",
        "raw_counterparties",
        ["counterparty_id", "counterparty_name", "rating", "sector", "country"],
        parties,
    )
    prices = []
    start = date(2025, 11, 1)
    for iid in range(1, 31):
        price = rng.uniform(20, 400)
        vol = rng.uniform(0.1, 0.6)
        for day in range(61):
            price = max(1.0, price * math.exp(rng.gauss(0, vol / math.sqrt(252))))
            prices.append(
                [f"INS{iid:03d}", start + timedelta(days=day), round(price, 4), round(vol, 4)]
            )
    write(
        "financial-risk",
        "raw_market_data",
        ["instrument_id", "price_date", "close_price", "annual_volatility"],
        prices,
    )
    positions = [
        [
            pid,
            rng.randint(1, 40),
            f"INS{rng.randint(1, 30):03d}",
            rng.choice([-1, 1]) * rng.randint(10, 5000),
            start + timedelta(days=60),
        ]
        for pid in range(1, 401)
    ]
    write(
        "financial-risk",
        "raw_positions",
        ["position_id", "counterparty_id", "instrument_id", "quantity", "as_of_date"],
        positions,
    )


def main() -> None:
    customer_360(random.Random(SEED))
    iot_telemetry(random.Random(SEED + 1))
    financial_risk(random.Random(SEED + 2))


if __name__ == "__main__":
    main()
