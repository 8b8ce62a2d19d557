"""Build the demo sample shipped in this folder from the UCI Online Retail data (CC BY 4.0).

    .venv/bin/python recsys_site/demo/build_sample.py [--source ../shared/datasets/uci-online-retail/derived]

Keeps the 300 most-bought products and 500 customers (seeded) who bought at least 8 lines of them, and
adds a `main_category` derived from keywords in each description (the original data has no categories;
the rules are below, first match wins). Prices are the median unit price of the original invoice lines.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CATEGORIES = [
    ("christmas", ("CHRISTMAS", "XMAS", "ADVENT", "SNOWFLAKE", "REINDEER", "SANTA")),
    ("candles & lights", ("CANDLE", "T-LIGHT", "LIGHT", "LANTERN", "LAMP")),
    ("bags", ("BAG", "PURSE", "TOTE", "SHOPPER")),
    ("kitchen", ("MUG", "CUP", "BOWL", "PLATE", "TEA", "CAKE", "JAR", "BOTTLE", "LUNCH", "KITCHEN", "SPOON")),
    ("stationery & wrap", ("CARD", "PAPER", "WRAP", "NOTEBOOK", "PENCIL", "STICKER", "TISSUE", "NAPKIN", "TAPE")),
    ("home decor", ("FRAME", "CLOCK", "MIRROR", "SIGN", "CUSHION", "HOOK", "HOLDER", "DOORMAT", "WALL", "DECORATION")),
    ("garden", ("GARDEN", "PLANT", "FLOWER", "BIRD", "WATERING")),
    ("jewellery", ("NECKLACE", "BRACELET", "EARRINGS", "RING", "HAIR")),
    ("toys & party", ("PARTY", "TOY", "GAME", "DOLLY", "BALLOON", "BUNTING", "PLAYHOUSE", "CHILDREN", "KIDS")),
]


def category_of(description: str) -> str:
    words = set(str(description).upper().replace("-", " - ").split()) | {str(description).upper()}
    for name, keys in CATEGORIES:
        if any(key in words or any(key in word for word in words) for key in keys):
            return name
    return "gifts"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=str(HERE.parents[2] / "shared/datasets/uci-online-retail/derived"))
    args = parser.parse_args()
    source = Path(args.source)
    products = pd.read_csv(source / "products.csv", dtype={"stock_code": str}).dropna(subset=["description"])
    lines = pd.read_csv(source / "interactions_purchases.csv", dtype={"customer_id": str, "stock_code": str})
    lines = lines[lines["stock_code"].isin(products["stock_code"])]
    top = lines["stock_code"].value_counts().head(300).index
    lines = lines[lines["stock_code"].isin(top)]
    per_customer = lines["customer_id"].value_counts()
    eligible = per_customer[(per_customer >= 8) & (per_customer <= 400)].index.to_series()
    customers = eligible.sample(n=min(500, len(eligible)), random_state=7)
    lines = lines[lines["customer_id"].isin(customers)].sort_values(["timestamp", "invoice_no"])
    catalog = products[products["stock_code"].isin(top)].copy()
    catalog["description"] = catalog["description"].str.strip()
    catalog["main_category"] = catalog["description"].map(category_of)
    catalog.rename(columns={"stock_code": "id", "description": "name", "median_unit_price": "actual_price"})[
        ["id", "name", "main_category", "actual_price"]
    ].to_csv(HERE / "products.csv", index=False)
    lines.rename(columns={"customer_id": "user_id", "stock_code": "item_id", "quantity": "value"})[
        ["user_id", "item_id", "event_type" if "event_type" in lines else "event", "value", "timestamp"]
    ].rename(columns={"event": "event_type"}).to_csv(HERE / "purchases.csv", index=False)
    print(f"{len(catalog)} products, {len(lines)} purchase lines by {lines['customer_id'].nunique()} customers")


if __name__ == "__main__":
    main()
