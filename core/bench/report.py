"""The bench result as a Markdown table (for the README)."""


def markdown(result):
    lines = [
        "| page | role | queries small / large | small median (p95) ms "
        "| large median (p95) ms | large: in SQL ms | large / floor |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for page in result["pages"]:
        small, large = page["small"], page["large"]
        queries = f"{small['queries']} / {large['queries'] if large else '-'}"
        large_ms = f"{large['median_ms']} ({large['p95_ms']})" if large else "-"
        large_sql = large["sql_median_ms"] if large else "-"
        lines.append(
            f"| {page['name']} | {page['role']} | {queries} "
            f"| {small['median_ms']} ({small['p95_ms']}) | {large_ms} "
            f"| {large_sql} | {page['ratio_to_floor']} |"
        )
    cold = [
        f"{page['name']}: {(page['large'] or page['small'])['cold_median_ms']} ms"
        for page in result["pages"]
        if "cold_median_ms" in (page["large"] or page["small"])
    ]
    alerts = result["alerts"]
    pipeline = (
        f"Alert pipeline: {alerts['count']} missed sessions in {alerts['seconds']} s "
        f"({alerts['per_second']} per second). "
        if alerts
        else "Alert pipeline: not measured. "
    )
    lines += [
        "",
        f"Floor (base layout, logged in): {result['floor_ms']} ms, "
        f"{result['floor_sql_ms']} ms of it in SQL. "
        + pipeline
        + f"Year-long attendance letter: {result['letter_year_ms']} ms."
        + (
            " Documents laid out afresh (large clinic, none kept): "
            + "; ".join(cold)
            + "."
            if cold
            else ""
        ),
    ]
    return "\n".join(lines)
