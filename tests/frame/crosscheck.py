#!/usr/bin/python3
"""Cross-check `tessera csv` against pandas on the bundled CSV files and on
generated data (quoted fields with separators, doubled quotes and newlines,
missing values, CRLF, gzip and zstd, several partitions), and on a glob of
several such files against pandas.concat of each file read alone.

Each case is an expression for Tessera and a function computing the same
thing with pandas; both results are read back with pandas and compared
column by column (floats to 1e-9 relative). Quantiles, medians and
describe() are exact while a group has at most 4096 values (the cases
above); on a generated million values they are checked against the
sketch's documented bound instead: the rank the answer has in the sorted
data is within 1% of the values' count of q (n - 1). Usage: crosscheck.py
TESSERA
"""
import glob
import gzip
import io
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

TESSERA = sys.argv[1] if len(sys.argv) > 1 else "./tessera"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = 0
checks = 0
RANK_BOUND = 0.01  # the sketch's documented rank error, as a fraction of the values' count
worst_rank = 0.0


def tessera(expr, path, *opts):
    r = subprocess.run([TESSERA, "csv", "-q", expr, path, *opts], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"tessera csv {expr!r} {path}: exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout.decode()


def tessera_spec(tmp, read, expr):
    """`tessera run` of the spec df = READ, result = EXPR (for read_csv keywords tessera csv has no option for)."""
    q = lambda t: "'" + t.replace("'", "''") + "'"
    spec = os.path.join(tmp, "spec.yaml")
    with open(spec, "w") as f:
        f.write(f"tessera: 1\nnodes:\n  df: {q(read)}\n  result: {q(expr)}\noutputs:\n  result: '-'\n")
    r = subprocess.run([TESSERA, "run", "-q", spec], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"tessera run {read!r} {expr!r}: exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout.decode()


def as_frame(x):
    if isinstance(x, pd.Series):
        x = x.reset_index()
    if isinstance(x, pd.DataFrame):
        # a groupby's keys are its index: Tessera writes them as the first columns (reset_index())
        return x.reset_index(drop=x.index.names == [None])
    return x


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            a, b = float(a), float(b)
        except (TypeError, ValueError):
            return False
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or abs(a - b) < 1e-12
    return a == b


def compare(name, out, want):
    global failures, checks
    checks += 1
    want = as_frame(want)
    if not isinstance(want, pd.DataFrame):
        got = out.strip()
        ok = close(float(got), float(want)) if isinstance(want, float) else got == str(want)
        if not ok:
            failures += 1
            print(f"FAIL {name}: got {got!r}, pandas {want!r}")
        return
    got = pd.read_csv(io.StringIO(out), keep_default_na=True, low_memory=False)
    want = pd.read_csv(io.StringIO(want.to_csv(index=False)), keep_default_na=True, low_memory=False)
    if list(got.columns) != list(want.columns) or len(got) != len(want):
        failures += 1
        print(f"FAIL {name}: shape/columns {list(got.columns)} x {len(got)} vs pandas {list(want.columns)} x {len(want)}")
        return
    for c in want.columns:
        for i, (a, b) in enumerate(zip(got[c].tolist(), want[c].tolist())):
            if isinstance(a, str) or isinstance(b, str):
                ok = str(a) == str(b)
            else:
                ok = close(float(a), float(b))
            if not ok:
                failures += 1
                print(f"FAIL {name}: column {c} row {i}: {a!r} vs pandas {b!r}")
                return


def run_cases(path, df, cases, *opts):
    for expr, fn in cases:
        try:
            out = tessera(expr, path, *opts)
        except RuntimeError as e:
            global failures, checks
            failures += 1
            checks += 1
            print(f"FAIL {e}")
            continue
        compare(f"{os.path.basename(path)}: {expr}", out, fn(df))


weather_cases = [
    ('df[df.precipitation > 0].groupby(["location", "weather"]).agg(days=("date", "count"), '
     'rain=("precipitation", "sum"), tmax=("temp_max", "mean"))',
     lambda d: d[d.precipitation > 0].groupby(["location", "weather"]).agg(
         days=("date", "count"), rain=("precipitation", "sum"), tmax=("temp_max", "mean"))),
    ('df.groupby("weather").temp_max.mean()', lambda d: d.groupby("weather").temp_max.mean()),
    ('df.groupby("location").agg(n=("wind", "size"), s=("wind", "std"), v=("wind", "var"), lo=("temp_min", "min"), '
     'hi=("temp_max", "max"), f=("date", "first"), l=("date", "last"), u=("weather", "nunique"), '
     'c=("weather", "count"), m=("wind", "mean"), t=("precipitation", "sum"))',
     lambda d: d.groupby("location").agg(n=("wind", "size"), s=("wind", "std"), v=("wind", "var"),
                                         lo=("temp_min", "min"), hi=("temp_max", "max"), f=("date", "first"),
                                         l=("date", "last"), u=("weather", "nunique"), c=("weather", "count"),
                                         m=("wind", "mean"), t=("precipitation", "sum"))),
    ('df.temp_max.max()', lambda d: d.temp_max.max()),
    ('df.temp_min.min()', lambda d: d.temp_min.min()),
    ('df.wind.mean()', lambda d: d.wind.mean()),
    ('df.wind.std()', lambda d: d.wind.std()),
    ('df.wind.var(ddof=0)', lambda d: d.wind.var(ddof=0)),
    ('df.precipitation.sum()', lambda d: d.precipitation.sum()),
    ('df.weather.nunique()', lambda d: d.weather.nunique()),
    ('df.date.count()', lambda d: d.date.count()),
    ('len(df[df.weather == "sun"])', lambda d: len(d[d.weather == "sun"])),
    ('df[(df.temp_max > 20) & (df.location == "Seattle")]', lambda d: d[(d.temp_max > 20) & (d.location == "Seattle")]),
    ('df[~(df.precipitation > 0) | (df.wind >= 7.5)]', lambda d: d[~(d.precipitation > 0) | (d.wind >= 7.5)]),
    ('df.assign(range=df.temp_max - df.temp_min, hot=df.temp_max > 25)[["date", "range", "hot"]]',
     lambda d: d.assign(range=d.temp_max - d.temp_min, hot=d.temp_max > 25)[["date", "range", "hot"]]),
    ('df.assign(r=round(df.wind * 1.5 + 2, 1), q=df.temp_max // 3, m=df.temp_max % 4)[["r", "q", "m"]]',
     lambda d: d.assign(r=(d.wind * 1.5 + 2).round(1), q=d.temp_max // 3, m=d.temp_max % 4)[["r", "q", "m"]]),
    ('df.weather.value_counts()', lambda d: d.weather.value_counts().rename_axis("weather").reset_index(name="count")),
    ('df.weather.value_counts(normalize=True)',
     lambda d: d.weather.value_counts(normalize=True).rename_axis("weather").reset_index(name="proportion")),
    # comparison and arithmetic methods, clip, loc[]
    ('df.assign(a=df.wind.gt(5), b=df.temp_max.sub(df.temp_min), c=df.wind.clip(1, 3), d=df.temp_max.clip(upper=20), '
     'e=df.precipitation.mul(2).le(4), f=df.temp_min.floordiv(3))',
     lambda d: d.assign(a=d.wind.gt(5), b=d.temp_max.sub(d.temp_min), c=d.wind.clip(1, 3), d=d.temp_max.clip(upper=20),
                        e=d.precipitation.mul(2).le(4), f=d.temp_min.floordiv(3))),
    ('df.loc[df.wind > 6, ["date", "wind"]]', lambda d: d.loc[d.wind > 6, ["date", "wind"]]),
    # query(): pandas' precedence (& | looser than comparisons), and/or/not, backticks
    ('df.query("wind > 7 & temp_max < 15 | weather == \'fog\' and precipitation > 0")',
     lambda d: d.query("wind > 7 & temp_max < 15 | weather == 'fog' and precipitation > 0")),
    ('df.query("not wind > 2 or `temp_min` - temp_max < -19").shape[0]',
     lambda d: d.query("not wind > 2 or `temp_min` - temp_max < -19").shape[0]),
    ('df.query("weather.str.startswith(\'s\') and wind >= 6.5").groupby("weather").size()',
     lambda d: d.query("weather.str.startswith('s') and wind >= 6.5", engine="python").groupby("weather").size().reset_index(name="size")),
    ('df.date.str[0:4].value_counts()', lambda d: d.date.str[0:4].value_counts().rename_axis("date").reset_index(name="count")),
    ('df.loc[(df.weather == "snow") & (df.wind > 3), "temp_min"].mean()',
     lambda d: d.loc[(d.weather == "snow") & (d.wind > 3), "temp_min"].mean()),
    ('df.sort_values("temp_max", ascending=False).head(7)',
     lambda d: d.sort_values("temp_max", ascending=False, kind="stable").head(7)),
    ('df.sort_values(["location", "wind"]).head(4)', lambda d: d.sort_values(["location", "wind"], kind="stable").head(4)),
    ('df.nlargest(3, "wind")', lambda d: d.nlargest(3, "wind")),
    ('df.nsmallest(3, "temp_min")', lambda d: d.nsmallest(3, "temp_min")),
    ('df[df.weather.isin(["rain", "snow"])].groupby("weather").size()',
     lambda d: d[d.weather.isin(["rain", "snow"])].groupby("weather").size().reset_index(name="size")),
    ('df[df.weather.str.contains("sn")].shape[0]', lambda d: d[d.weather.str.contains("sn")].shape[0]),
    ('df[df.weather.str.startswith("dri") & df.date.str.endswith("-01")]',
     lambda d: d[d.weather.str.startswith("dri") & d.date.str.endswith("-01")]),
    ('df[df.date >= "2015-06-01"].groupby("location").temp_max.max()',
     lambda d: d[d.date >= "2015-06-01"].groupby("location").temp_max.max()),
    ('df.groupby(["location", "weather"]).size()',
     lambda d: d.groupby(["location", "weather"]).size().reset_index(name="size")),
    ('df.groupby("weather")[["wind", "temp_max"]].sum()', lambda d: d.groupby("weather")[["wind", "temp_max"]].sum()),
    ('df.head(3)', lambda d: d.head(3)),
    # reset_index(): a grouped result already has its keys as columns; drop=True anywhere
    ('df.groupby("location").temp_max.quantile(0.9).reset_index()',
     lambda d: d.groupby("location").temp_max.quantile(0.9).reset_index()),
    ('df.groupby("weather")[["wind", "temp_max"]].sum().head(3).reset_index()',
     lambda d: d.groupby("weather")[["wind", "temp_max"]].sum().head(3).reset_index()),
    ('df[df.wind > 9].reset_index(drop=True)', lambda d: d[d.wind > 9].reset_index(drop=True)),
    # agg with a mapping: one column per entry, named as its column
    ('df.groupby("weather").agg({"wind": "mean", "temp_max": "max", "date": "count"})',
     lambda d: d.groupby("weather").agg({"wind": "mean", "temp_max": "max", "date": "count"})),
    ('df.groupby(["location", "weather"]).agg(dict(precipitation="sum", temp_min="median"))',
     lambda d: d.groupby(["location", "weather"]).agg(dict(precipitation="sum", temp_min="median"))),
    # DataFrame.round: float columns, not a grouped result's keys
    ('df.groupby("weather").wind.mean().round(2)', lambda d: d.groupby("weather").wind.mean().round(2)),
    ('df[df.wind > 7].round(0)', lambda d: d[d.wind > 7].round(0)),
    ('df.describe().round(1)', lambda d: d.describe().round(1).reset_index()),
    # Series row methods (Tessera writes the values, pandas' row labels aside); sort_values()
    # without by on a Series-like grouped result
    ('df.wind.head(4)', lambda d: d.wind.head(4).to_frame()),
    ('df[df.wind > 9].wind.tail(2)', lambda d: d[d.wind > 9].wind.tail(2).to_frame()),
    ('df.wind.nlargest(3)', lambda d: d.wind.nlargest(3).to_frame()),
    ('(df.temp_max - df.temp_min).nsmallest(2)', lambda d: (d.temp_max - d.temp_min).nsmallest(2).to_frame("value")),
    ('df.weather.drop_duplicates()', lambda d: d.weather.drop_duplicates().to_frame()),
    ('df.temp_min.sort_values(ascending=False).head(5)',
     lambda d: d.temp_min.sort_values(ascending=False, kind="stable").head(5).to_frame()),
    ('df.groupby("weather").size().sort_values(ascending=False)',
     lambda d: d.groupby("weather").size().sort_values(ascending=False).reset_index(name="size")),
    ('df.weather.value_counts().sort_values()',
     lambda d: d.weather.value_counts().sort_values().rename_axis("weather").reset_index(name="count")),
    ('df[df.wind.between(3, 3.5)].drop(columns=["weather"])',
     lambda d: d[d.wind.between(3, 3.5)].drop(columns=["weather"])),
    ('df.rename(columns=dict(temp_max="hi"))[["date", "hi"]].head(2)',
     lambda d: d.rename(columns=dict(temp_max="hi"))[["date", "hi"]].head(2)),
    # quantiles: 2922 days, 1461 a place: exact
    ('df.describe()', lambda d: d.describe().reset_index()),
    ('df.temp_max.quantile([0.01, 0.5, 0.99])',
     lambda d: d.temp_max.quantile([0.01, 0.5, 0.99]).rename_axis("quantile").reset_index()),
    ('df[df.location == "Seattle"].temp_max.quantile([0, 0.1, 0.25, 0.5, 0.9, 0.99, 1])',
     lambda d: d[d.location == "Seattle"].temp_max.quantile([0, 0.1, 0.25, 0.5, 0.9, 0.99, 1])
     .rename_axis("quantile").reset_index()),
    ('df[df.location == "Seattle"].wind.median()', lambda d: d[d.location == "Seattle"].wind.median()),
    ('df[df.location == "New York"].precipitation.quantile(0.95)',
     lambda d: d[d.location == "New York"].precipitation.quantile(0.95)),
    ('df.groupby("location").temp_max.quantile(0.9)', lambda d: d.groupby("location").temp_max.quantile(0.9)),
    ('df.groupby(["location", "weather"]).agg(m=("wind", "median"), q=("temp_min", "quantile"), n=("wind", "count"))',
     lambda d: d.groupby(["location", "weather"]).agg(m=("wind", "median"), q=("temp_min", "quantile"),
                                                     n=("wind", "count"))),
    ('df.groupby("weather").median()', lambda d: d.groupby("weather").median(numeric_only=True)),
    ('df.groupby("location").quantile(0.3)', lambda d: d.groupby("location").quantile(0.3, numeric_only=True)),
    # several q: a row per group and q, the q in pandas' reset level_1
    ('df.groupby("location").temp_max.quantile([0.1, 0.5, 0.95])',
     lambda d: d.groupby("location").temp_max.quantile([0.1, 0.5, 0.95])),
    ('df.groupby(["location", "weather"]).quantile([0, 0.25, 1])',
     lambda d: d.groupby(["location", "weather"]).quantile([0, 0.25, 1], numeric_only=True)),
    ('df[df.location == "Seattle"].describe()', lambda d: d[d.location == "Seattle"].describe().reset_index()),
    ('df[df.location == "New York"].describe(percentiles=[0.05, 0.333, 0.95])',
     lambda d: d[d.location == "New York"].describe(percentiles=[0.05, 0.333, 0.95]).reset_index()),
    ('df[df.location == "Seattle"].wind.describe()', lambda d: d[d.location == "Seattle"].wind.describe()),
    # describe() of text: count, unique, top, freq (no ties for the top here: pandas picks among ties arbitrarily)
    ('df.weather.describe()', lambda d: d.weather.describe()),
    ('df[["weather", "wind", "temp_max"]].describe(include="all", percentiles=[0.1, 0.9])',
     lambda d: d[["weather", "wind", "temp_max"]].describe(include="all", percentiles=[0.1, 0.9]).reset_index()),
    ('df[df.precipitation > 0][["weather"]].describe()', lambda d: d[d.precipitation > 0][["weather"]].describe().reset_index()),
    # Series methods of dates and text, and groupby by a computed Series (pandas names the key after its column)
    ('df.assign(y=df.date.dt.year, m=df.date.dt.month, d=df.date.dt.day, w=df.date.dt.dayofweek, '
     'j=df.date.dt.dayofyear, q=df.date.dt.quarter, n=df.date.dt.days_in_month, l=df.date.dt.is_leap_year, '
     's=df.date.dt.is_month_start, e=df.date.dt.is_month_end, dn=df.date.dt.day_name(), '
     'mn=df.date.dt.month_name(), f=df.date.dt.strftime("%d/%m/%Y %a %j"))',
     lambda d: (lambda t: d.assign(y=t.dt.year, m=t.dt.month, d=t.dt.day, w=t.dt.dayofweek, j=t.dt.dayofyear,
                                   q=t.dt.quarter, n=t.dt.days_in_month, l=t.dt.is_leap_year,
                                   s=t.dt.is_month_start, e=t.dt.is_month_end, dn=t.dt.day_name(),
                                   mn=t.dt.month_name(), f=t.dt.strftime("%d/%m/%Y %a %j")))(pd.to_datetime(d.date))),
    ('df.groupby(df.date.dt.year).temp_max.mean()',
     lambda d: d.groupby(pd.to_datetime(d.date).dt.year).temp_max.mean()),
    ('df.groupby(["location", df.date.dt.month]).agg(t=("temp_max", "max"), n=("date", "count"))',
     lambda d: d.groupby(["location", pd.to_datetime(d.date).dt.month]).agg(t=("temp_max", "max"), n=("date", "count"))),
    ('df.groupby([df.date.dt.year, df.date.dt.quarter.rename("q")]).wind.std()',
     lambda d: d.groupby([pd.to_datetime(d.date).dt.year, pd.to_datetime(d.date).dt.quarter.rename("q")]).wind.std()),
    ('df.groupby(df.precipitation > 0).size()', lambda d: d.groupby(d.precipitation > 0).size().reset_index(name="size")),
    ('df.groupby(df.wind.round(0).rename("w")).mean()',
     lambda d: d.groupby(d.wind.round(0).rename("w")).mean(numeric_only=True)),
    ('df.groupby(df.weather.str[0:2]).temp_min.min()', lambda d: d.groupby(d.weather.str[0:2]).temp_min.min()),
    ('df.groupby("weather").wind.describe()', lambda d: d.groupby("weather").wind.describe()),
    ('df.assign(t=df.temp_max.round(0).astype("int64")).groupby(["location", df.date.str[:4].rename("y")]).t.describe(percentiles=[0.1, 0.95])',
     lambda d: d.assign(t=d.temp_max.round(0).astype("int64")).groupby(["location", d.date.str[:4].rename("y")]).t.describe(percentiles=[0.1, 0.95])),
    # frame-wide reductions: a value per column
    ('df.mean()', lambda d: d.mean(numeric_only=True)),
    ('df.sum()', lambda d: d.sum(numeric_only=True)),
    ('df.median()', lambda d: d.median(numeric_only=True)),
    ('df.var()', lambda d: d.var(numeric_only=True)),
    ('df[["temp_max", "temp_min"]].std(ddof=0)', lambda d: d[["temp_max", "temp_min"]].std(ddof=0)),
    ('df.max()', lambda d: d.max()),
    ('df.count()', lambda d: d.count()),
    ('df.nunique()', lambda d: d.nunique()),
]

airport_cases = [
    ('df.assign(a=df.name.str[0:5], b=df.name.str[-3:], c=df.name.str[::-2], d=df.city.str[0], '
     'e=df.name.str.slice(2, None, 3), f=df.name.str.replace("Airport", "AP"), g=df.name.str.get(-1), '
     'h=df.city.str.lstrip("AB"), i=df.iata.str.replace("", "-", n=2), j=df.name.str.rstrip("lt"), '
     'k=df.name.str.replace("a", "", n=1), m=df.city.str[100:], o=df.name.str.slice(-4, -1), '
     'p=df.name.str[5:1:-1], r=df.city.str.strip("Sa"), s=df.name.str.get(30))',
     lambda d: d.assign(a=d.name.str[0:5], b=d.name.str[-3:], c=d.name.str[::-2], d=d.city.str[0],
                        e=d.name.str.slice(2, None, 3), f=d.name.str.replace("Airport", "AP"), g=d.name.str.get(-1),
                        h=d.city.str.lstrip("AB"), i=d.iata.str.replace("", "-", n=2), j=d.name.str.rstrip("lt"),
                        k=d.name.str.replace("a", "", n=1), m=d.city.str[100:], o=d.name.str.slice(-4, -1),
                        p=d.name.str[5:1:-1], r=d.city.str.strip("Sa"), s=d.name.str.get(30))),
    # columns with missing text: pandas 1.5 drops them as nuisance, 2.x fails; each column's min skipping them
    ('df.min()', lambda d: d.apply(lambda col: col.dropna().min())),
    ('df.count()', lambda d: d.count()),
    ('df.isna().sum()', lambda d: d.isna().sum()),
    ('df.notna().mean()', lambda d: d.notna().mean()),
    ('df.state.unique()', lambda d: pd.DataFrame({"state": d.state.unique()})),
    ('df[df.state == "CA"].nunique()', lambda d: d[d.state == "CA"].nunique()),
    ('df.assign(a=df.name.str.split(" ").str[0], b=df.name.str.split().str[-1], c=df.name.str.split(" ", n=1).str.get(1), '
     'd=df.city.str.split("o").str[2], e=df.name.str.split(n=2).str[-1], f=df.name.str.split("a", n=-1).str[-2])',
     lambda d: d.assign(a=d.name.str.split(" ").str[0], b=d.name.str.split().str[-1], c=d.name.str.split(" ", n=1).str.get(1),
                        d=d.city.str.split("o").str[2], e=d.name.str.split(n=2).str[-1], f=d.name.str.split("a", n=-1).str[-2])),
    ('df.name.str.split(" ").str[0].value_counts().head(5)',
     lambda d: d.name.str.split(" ").str[0].value_counts().head(5).rename_axis("name").reset_index(name="count")),
    ('df.groupby("state").size().nlargest(4)', lambda d: d.groupby("state").size().nlargest(4).reset_index(name="size")),
    ('df.groupby("state").latitude.mean().nsmallest()', lambda d: d.groupby("state").latitude.mean().nsmallest()),
    ('df.state.value_counts().sort_index()', lambda d: d.state.value_counts().sort_index().rename_axis("state").reset_index(name="count")),
    ('df.groupby(["country", "state"]).size().sort_index(ascending=False)',
     lambda d: d.groupby(["country", "state"]).size().sort_index(ascending=False).reset_index(name="size")),
    ('df.groupby("state").latitude.mean().reset_index(name="lat")', lambda d: d.groupby("state").latitude.mean().reset_index(name="lat")),
    ('df.merge(df.groupby("state").size().rename("n").reset_index(), on="state")[["iata", "state", "n"]]',
     # left rows' order, as pandas >= 2.2 keeps it (see merge_cases)
     lambda d: d.merge(d.groupby("state").size().rename("n").reset_index(), on="state", how="left")
     .dropna(subset=["n"]).astype({"n": "int64"})[["iata", "state", "n"]]),
    ('df.groupby(df.state.str.lower().rename("st")).latitude.max()',
     lambda d: d.groupby(d.state.str.lower().rename("st")).latitude.max()),
    ('df.groupby("state").size()', lambda d: d.groupby("state").size().reset_index(name="size")),
    ('df.latitude.mean()', lambda d: d.latitude.mean()),
    ('df[df.state.isna()]', lambda d: d[d.state.isna()]),
    ('df.dropna()', lambda d: d.dropna()),
    ('df.groupby("country").agg(n=("iata", "count"), lat=("latitude", "max"))',
     lambda d: d.groupby("country").agg(n=("iata", "count"), lat=("latitude", "max"))),
    ('df[df.name.str.contains("intl", case=False)].shape[0]',
     lambda d: d[d.name.str.contains("intl", case=False)].shape[0]),
    ('df.fillna("??")[["iata", "state"]]', lambda d: d.fillna("??")[["iata", "state"]]),
    ('df.fillna({"state": "??", "city": "-", "nope": 1})[["iata", "city", "state"]]',
     lambda d: d.fillna({"state": "??", "city": "-", "nope": 1})[["iata", "city", "state"]]),
    ('df.describe(percentiles=[0.01, 0.99])', lambda d: d.describe(percentiles=[0.01, 0.99]).reset_index()),
    ('df.groupby("country").latitude.median()', lambda d: d.groupby("country").latitude.median()),
    ('df[["state", "country", "city"]].describe()', lambda d: d[["state", "country", "city"]].describe().reset_index()),
]


hourly_cases = [
    # the date column is an ISO date and time, text to both: its parts by slicing
    ('df.groupby(df.date.str[5:7].rename("month")).agg(t=("temperature", "mean"), p=("pressure", "max"))',
     lambda d: d.groupby(d.date.str[5:7].rename("month")).agg(t=("temperature", "mean"), p=("pressure", "max"))),
    ('df.groupby(df.date.str.slice(11, 13)).wind.median()', lambda d: d.groupby(d.date.str.slice(11, 13)).wind.median()),
    ('df.assign(h=df.date.str[11:13].astype("int64"), d=df.date.str[:10].astype("date").dt.dayofyear, '
     'p=df.pressure.astype("string").str[-1:].astype("float64")).groupby("h").agg(d=("d", "max"), p=("p", "mean"))',
     lambda d: d.assign(h=d.date.str[11:13].astype("int64"), d=pd.to_datetime(d.date.str[:10]).dt.dayofyear,
                        p=d.pressure.astype("string").str[-1:].astype("float64")).groupby("h").agg(d=("d", "max"), p=("p", "mean"))),
    ('df[df.date.str[11:13] == "12"].temperature.describe()',
     lambda d: d[d.date.str[11:13] == "12"].temperature.describe()),
    ('df.assign(day=df.date.str.replace("T", " ").str[:10])[["day", "temperature"]].tail(3)',
     lambda d: d.assign(day=d.date.str.replace("T", " ").str[:10])[["day", "temperature"]].tail(3)),
]


def generated(path, rows, seed, eol="\r\n"):
    rnd = random.Random(seed)
    keys = [f"k{i:03d}" for i in range(37)]
    with open(path, "w", newline="") as f:
        f.write(f'id,key,x,y,note,flag,day{eol}')
        for i in range(rows):
            x = "" if rnd.random() < 0.05 else repr(round(rnd.uniform(-100, 100), rnd.randint(0, 6)))
            y = "NA" if rnd.random() < 0.05 else str(rnd.randint(-1000, 1000))
            r = rnd.random()
            note = '"a, b"' if r < 0.1 else '"line1\nline2"' if r < 0.2 else '"say ""hi"""' if r < 0.3 else "plain"
            flag = "True" if rnd.random() < 0.5 else "False"
            day = f"20{rnd.randint(10, 20)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            f.write(f"{i},{rnd.choice(keys)},{x},{y},{note},{flag},{day}{eol}")


gen_cases = [
    ('df.groupby("key").agg(n=("x", "count"), s=("x", "sum"), m=("x", "mean"), sy=("y", "sum"), my=("y", "mean"), '
     'lo=("x", "min"), hi=("y", "max"), sd=("x", "std"), first=("note", "first"), last=("day", "last"), '
     'u=("note", "nunique"), size=("id", "size"))',
     lambda d: d.groupby("key").agg(n=("x", "count"), s=("x", "sum"), m=("x", "mean"), sy=("y", "sum"),
                                    my=("y", "mean"), lo=("x", "min"), hi=("y", "max"), sd=("x", "std"),
                                    first=("note", "first"), last=("day", "last"), u=("note", "nunique"),
                                    size=("id", "size"))),
    ('df[df.x > 50]', lambda d: d[d.x > 50]),
    ('df[df.note.str.contains("line2")][["id", "note"]]', lambda d: d[d.note.str.contains("line2")][["id", "note"]]),
    ('df[df.flag & (df.y < 0)].shape[0]', lambda d: d[d.flag & (d.y < 0)].shape[0]),
    ('df.x.sum()', lambda d: d.x.sum()),
    ('df.y.mean()', lambda d: d.y.mean()),
    ('len(df)', lambda d: len(d)),
    ('df.x.isna().sum()', lambda d: d.x.isna().sum()),
    ('df.assign(z=df.x * df.y)[["id", "z"]]', lambda d: d.assign(z=d.x * d.y)[["id", "z"]]),
    ('df.dropna(subset=["x"]).shape[0]', lambda d: d.dropna(subset=["x"]).shape[0]),
    ('df.fillna(0)[["x", "y"]]', lambda d: d.fillna(0)[["x", "y"]]),
    ('df.sort_values(["key", "id"], ascending=[False, True]).head(20)[["key", "id", "x"]]',
     lambda d: d.sort_values(["key", "id"], ascending=[False, True]).head(20)[["key", "id", "x"]]),
    ('df.groupby(["key", "flag"]).x.max()', lambda d: d.groupby(["key", "flag"]).x.max()),
    # about 1600 rows a key, spread over every partition: the merged sketches are still exact
    ('df.groupby("key").agg(med=("x", "median"), q=("y", "quantile"), my=("y", "median"))',
     lambda d: d.groupby("key").agg(med=("x", "median"), q=("y", "quantile"), my=("y", "median"))),
    ('df.groupby("key").x.quantile(0.1)', lambda d: d.groupby("key").x.quantile(0.1)),
    ('df.groupby("key")[["x", "y"]].quantile([0.05, 0.5, 0.75])',
     lambda d: d.groupby("key")[["x", "y"]].quantile([0.05, 0.5, 0.75])),
    ('df.groupby(["key", "flag"]).y.median()', lambda d: d.groupby(["key", "flag"]).y.median()),
    ('df[df.key == "k001"].describe()', lambda d: d[d.key == "k001"].describe().reset_index()),
    ('df[df.key == "k017"].y.quantile([0.01, 0.5, 0.99])',
     lambda d: d[d.key == "k017"].y.quantile([0.01, 0.5, 0.99]).rename_axis("quantile").reset_index()),
    # a full sort of many partitions runs as a sample sort: stable, missing keys last
    ('df.sort_values(["x", "key"], ascending=[False, True])[["id", "key", "x"]]',
     lambda d: d.sort_values(["x", "key"], ascending=[False, True], kind="stable")[["id", "key", "x"]]),
    ('df.sort_values("day")[["id", "day", "note"]]', lambda d: d.sort_values("day", kind="stable")[["id", "day", "note"]]),
    ('df[df.flag].sort_values(["key", "y"])', lambda d: d[d.flag].sort_values(["key", "y"], kind="stable")),
]


def keys_table(path, seed):
    """A lookup table for merges: most of gen.csv's keys, some twice, one key of its own, a missing key."""
    rnd = random.Random(seed)
    with open(path, "w") as f:
        f.write("key,weight,label,x\n")
        for i in range(37):
            if i % 5 == 3:
                continue
            for _ in range(2 if i % 7 == 0 else 1):
                f.write(f"k{i:03d},{rnd.randint(1, 9)},L{i % 4},{rnd.randint(0, 99)}\n")
        f.write("zzz,5,Lz,1\n,6,Lnull,2\n")


def merge_cases(kp):
    k = pd.read_csv(kp)
    cols = ["id", "key", "x_x", "weight", "label"]
    return [
        # an inner merge keeps the left rows' order, as pandas >= 2.2 does (1.5 grouped them by key)
        (f'df.merge(read_csv("{kp}"), on="key")[["id", "key", "x_x", "weight", "label"]]',
         lambda d: d.merge(k, on="key", how="left").dropna(subset=["label"])[cols]),
        (f'df.merge(read_csv("{kp}"), on="key", how="left", suffixes=("_l", "_r"))[["id", "key", "x_l", "x_r", "weight"]]',
         lambda d: d.merge(k, on="key", how="left", suffixes=("_l", "_r"))[["id", "key", "x_l", "x_r", "weight"]]),
        (f'read_csv("{kp}").merge(df[df.y > 900], on="key", how="right")[["key", "label", "id", "y"]]',
         lambda d: k.merge(d[d.y > 900], on="key", how="right")[["key", "label", "id", "y"]]),
        (f'df[df.id < 3000].merge(read_csv("{kp}"), on="key", how="outer")[["id", "key", "weight"]]',
         lambda d: d[d.id < 3000].merge(k, on="key", how="outer", sort=True)[["id", "key", "weight"]]),
        (f'merge(df, read_csv("{kp}").groupby("key").weight.sum(), on="key").groupby("flag").weight.sum()',
         lambda d: d.merge(k.groupby("key").weight.sum().reset_index(), on="key").groupby("flag").weight.sum()),
        (f'df.merge(read_csv("{kp}"), left_on="key", right_on="key", how="left").groupby("label").id.count()',
         lambda d: d.merge(k, on="key", how="left").groupby("label").id.count()),
        (f'concat([df[df.id < 5], read_csv("{kp}"), df[df.id > 59990]])[["id", "key", "x", "label"]]',
         lambda d: pd.concat([d[d.id < 5], k, d[d.id > 59990]])[["id", "key", "x", "label"]]),
        ('df.tail(7)[["id", "note"]]', lambda d: d.tail(7)[["id", "note"]]),
        ('df.drop_duplicates(["key", "flag"])', lambda d: d.drop_duplicates(["key", "flag"])),
        ('df[["key", "flag"]].drop_duplicates(keep="last")', lambda d: d[["key", "flag"]].drop_duplicates(keep="last")),
        ('df[df.id < 500].drop_duplicates(subset=["key"], keep=False)',
         lambda d: d[d.id < 500].drop_duplicates(subset=["key"], keep=False)),
        ('df[["x"]].drop_duplicates()', lambda d: d[["x"]].drop_duplicates()),
        ('df[["y", "note"]].drop_duplicates().shape[0]', lambda d: d[["y", "note"]].drop_duplicates().shape[0]),
        ('df[df.x > 0].tail(3)', lambda d: d[d.x > 0].tail(3)),
    ]


# over a glob of files: order-sensitive ones (first, last, head, a filter) show the files' order
glob_cases = gen_cases[:3] + [
    ('df.groupby("flag").agg(f=("id", "first"), l=("id", "last"), n=("note", "count"))',
     lambda d: d.groupby("flag").agg(f=("id", "first"), l=("id", "last"), n=("note", "count"))),
    ('df.head(5)', lambda d: d.head(5)),
    ('len(df)', lambda d: len(d)),
]


def glob_check(tmp):
    """Files cut apart: CRLF and LF, one gzip'ed, one tiny; a glob must read as their concatenation."""
    d = os.path.join(tmp, "parts")
    os.mkdir(d)
    generated(os.path.join(d, "a.csv"), 20000, 11)
    generated(os.path.join(d, "b.csv"), 15000, 12, eol="\n")
    generated(os.path.join(d, "c.csv"), 25000, 13)
    generated(os.path.join(d, "d.csv"), 3, 14, eol="\n")
    with open(os.path.join(d, "c.csv"), "rb") as src, gzip.open(os.path.join(d, "c.csv.gz"), "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.remove(os.path.join(d, "c.csv"))
    pattern = os.path.join(d, "*.csv*")
    files = sorted(glob.glob(pattern))
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    run_cases(pattern, df, glob_cases, "--blocksize", "64KiB")
    run_cases(pattern, df, glob_cases[:2], "--blocksize", "256MiB", "-j", "1")
    # include_path_column: the name of each row's file; a list keeps its order
    global failures, checks
    order = [files[2], files[0], files[3], files[1]]
    pdf = pd.concat([pd.read_csv(f).assign(file=f) for f in order], ignore_index=True)
    read = f'read_csv({order!r}, blocksize="64KiB", include_path_column="file")'
    for expr, fn in [
        ('df.groupby("file").agg(n=("id", "size"), s=("x", "sum"), f=("id", "first"))',
         lambda d: d.groupby("file").agg(n=("id", "size"), s=("x", "sum"), f=("id", "first"))),
        ('df[df.y > 990][["file", "id", "y"]]', lambda d: d[d.y > 990][["file", "id", "y"]]),
        ('df.x.sum()', lambda d: d.x.sum()),
    ]:
        try:
            out = tessera_spec(tmp, read, expr)
        except RuntimeError as e:
            failures += 1
            checks += 1
            print(f"FAIL {e}")
            continue
        compare(f"list of files: {expr}", out, fn(pdf))
def rank_error(sorted_values, v, q):
    """How far (a fraction of n) the rank of @v in the data is from q (n - 1), one rank of slack for an
    answer interpolated between two neighbours."""
    n = len(sorted_values)
    below = np.searchsorted(sorted_values, v, "left")
    upto = np.searchsorted(sorted_values, v, "right")
    t = q * (n - 1)
    return max(0.0, below - t - 1, t - upto) / n


def check_rank(name, sorted_values, v, q):
    global failures, checks, worst_rank
    checks += 1
    e = rank_error(sorted_values, float(v), q)
    worst_rank = max(worst_rank, e)
    if not e <= RANK_BOUND:
        failures += 1
        print(f"FAIL {name}: q={q}: {v!r} is {100 * e:.3f}% of n away in rank (bound {100 * RANK_BOUND}%)")


def big_quantiles(tmp):
    """A million values and more, past the exact threshold: answers within the rank bound, and
    describe()'s other statistics exact."""
    path = os.path.join(tmp, "big.csv")
    rng = np.random.default_rng(5)
    n = 1_200_000
    d = pd.DataFrame({
        "g": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
        "v": np.round(rng.lognormal(0.0, 2.0, n), 3),     # skewed, many repeats
        "w": rng.integers(-10**6, 10**6, n),
        "s": np.arange(n),                                 # sorted input
    })
    d.loc[rng.random(n) < 0.02, "v"] = np.nan
    d.to_csv(path, index=False)
    d = pd.read_csv(path)
    qs = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1]
    opts = ("--blocksize", "1MiB")  # about 30 partitions, merged in a tree
    for col in ["v", "w", "s"]:
        sv = np.sort(d[col].dropna().values)
        expr = f"df.{col}.quantile({qs})"
        got = pd.read_csv(io.StringIO(tessera(expr, path, *opts)), float_precision="round_trip")
        for q, v in zip(got["quantile"], got[col]):
            check_rank(expr, sv, v, q)
    expr = 'df.groupby("g").agg(p9=("w", "quantile"), m=("v", "median"))'
    got = pd.read_csv(io.StringIO(tessera(expr, path, *opts)), float_precision="round_trip")
    for g, p9, m in zip(got["g"], got["p9"], got["m"]):
        check_rank(f"{expr} [{g}] p9", np.sort(d[d.g == g].w.values), p9, 0.5)
        check_rank(f"{expr} [{g}] m", np.sort(d[d.g == g].v.dropna().values), m, 0.5)
    expr = 'df.groupby("g").v.quantile(0.99)'
    got = pd.read_csv(io.StringIO(tessera(expr, path, *opts)), float_precision="round_trip")
    for g, v in zip(got["g"], got["v"]):
        check_rank(f"{expr} [{g}]", np.sort(d[d.g == g].v.dropna().values), v, 0.99)
    expr = "df.describe()"
    got = pd.read_csv(io.StringIO(tessera(expr, path, *opts)), float_precision="round_trip").set_index("index")
    want = d.describe()
    for col in want.columns:
        sv = np.sort(d[col].dropna().values)
        for stat in want.index:
            if stat.endswith("%"):
                check_rank(f"{expr} {stat} of {col}", sv, got.loc[stat, col], float(stat[:-1]) / 100)
            else:
                compare(f"{expr} {stat} of {col}", f"{got.loc[stat, col]!r}\n", float(want.loc[stat, col]))


def pjoin_check(tmp, g, d):
    """Merges whose sides are both large for -m 4M: sorted into shared key ranges, rows in key order."""
    global failures, checks
    spec = os.path.join(tmp, "pjoin.yaml")
    q = lambda t: "'" + t.replace("'", "''") + "'"
    nodes = {
        "df": f'read_csv("{g}")',
        "b": f'read_csv("{g}")[["id", "key", "y", "note"]]',
        "b3": 'b[b.id % 3 == 0]',
        "c": 'b3.assign(id=b3.id * 2)',
    }
    b = d[["id", "key", "y", "note"]]
    b3 = b[b.id % 3 == 0]
    c = b3.assign(id=b3.id * 2)
    cases = {
        "inner": ('df.merge(c, on="id")', d.merge(c, on="id"), "id"),
        "left": ('df.merge(c, on="id", how="left")', d.merge(c, on="id", how="left"), "id"),
        "right": ('df.merge(c, on="id", how="right")', d.merge(c, on="id", how="right"), "id"),
        "outer": ('df.merge(c, on="id", how="outer")', d.merge(c, on="id", how="outer"), "id"),
        "many": ('df[df.id < 900].merge(b[b.id < 1500], on="key")', d[d.id < 900].merge(b[b.id < 1500], on="key"), "key"),
    }
    with open(spec, "w") as f:
        f.write("tessera: 1\nnodes:\n")
        for k, v in nodes.items():
            f.write(f"  {k}: {q(v)}\n")
        for k, (e, _, _) in cases.items():
            f.write(f"  {k}: {q(e)}\n")
        f.write("outputs:\n")
        for k in cases:
            f.write(f"  {k}: {os.path.join(tmp, 'pj-' + k + '.csv')}\n")
    r = subprocess.run([TESSERA, "run", "-q", "-v", "-m", "4M", spec], capture_output=True)
    checks += 1
    if r.returncode != 0 or b".l3[" not in r.stderr:
        failures += 1
        print(f"FAIL partitioned merges: exit {r.returncode}, {'no' if b'.l3[' not in r.stderr else 'with'} range cuts: "
              f"{r.stderr.decode()[-300:]}")
        return
    for k, (e, want, key) in cases.items():
        with open(os.path.join(tmp, "pj-" + k + ".csv")) as f:
            compare(f"partitioned merge ({k}): {e}", f.read(), want.sort_values(key, kind="stable"))


def main():
    tmp = tempfile.mkdtemp(prefix="tessera-frame-")
    try:
        w = os.path.join(ROOT, "examples/data/weather.csv")
        run_cases(w, pd.read_csv(w), weather_cases)
        a = os.path.join(ROOT, "examples/data/airports.csv")
        run_cases(a, pd.read_csv(a), airport_cases)
        h = os.path.join(ROOT, "examples/data/seattle-weather-hourly-normals.csv")
        run_cases(h, pd.read_csv(h), hourly_cases)
        g = os.path.join(tmp, "gen.csv")
        generated(g, 60000, 7)
        gdf = pd.read_csv(g)
        # several partitions (blocks of 64 KiB cut inside quoted newlines), one, and stdin-like compressed input
        run_cases(g, gdf, gen_cases, "--blocksize", "64KiB")
        run_cases(g, gdf, gen_cases[:3], "--blocksize", "256MiB", "-j", "1")
        kp = os.path.join(tmp, "keys.csv")
        keys_table(kp, 3)
        pjoin_check(tmp, g, gdf)
        run_cases(g, gdf, merge_cases(kp), "--blocksize", "64KiB")
        with open(g, "rb") as src, gzip.open(g + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        run_cases(g + ".gz", gdf, gen_cases[:2], "--blocksize", "100KiB")
        if shutil.which("zstd"):
            subprocess.run(["zstd", "-q", "-f", g, "-o", g + ".zst"], check=True)
            run_cases(g + ".zst", gdf, gen_cases[:2], "--blocksize", "100KiB")
        glob_check(tmp)
        big_quantiles(tmp)
    finally:
        shutil.rmtree(tmp)
    print(f"frame crosscheck: {checks - failures} of {checks} agree with pandas {pd.__version__} "
          f"(worst quantile rank error {100 * worst_rank:.4f}% of n, bound {100 * RANK_BOUND}%)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
