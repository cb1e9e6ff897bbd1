"""The 100 rows the two template apps render: the same data for Flask and Django.

Built once at import, deterministically (no random numbers), so every server
and every run renders exactly the same page.
"""

STATUSES = ("paid", "pending", "overdue", "refunded")
CITIES = ("Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Tbilisi", "Perth")


def _row(n):
    return {
        "id": n,
        "name": "Customer %03d" % n,
        "email": "customer%03d@example.org" % n,
        "city": CITIES[n % len(CITIES)],
        "amount": (n * 7919) % 100000 / 100.0,
        "status": STATUSES[n % len(STATUSES)],
        "tags": ["vip"] if n % 10 == 0 else [],
    }


ROWS = [_row(n) for n in range(1, 101)]
TITLE = "Invoices"
