"""Benchmark: extractive summaries (the "summarise" route) keep a text's key facts.

    python bench/summaries.py [--quick] [--json]

Eighteen short texts of lamina's own (notices, news, reviews; 10 used to build the method, 8 held
out from it), each with the words a summary must keep to hold its key facts. Three systems
summarise each, with the same encoder (all-MiniLM-L6-v2) and length (a third of the sentences,
two of four): **lamina** (`extractive_summary`: centroid, position and contrast), **lamina
without the contrast term** (`contrast_weight=0`), and the named baseline, **lead** (the first
sentences, the classic news baseline). Reported per split: texts with every key fact kept, and
the summary's length as a share of the text's. --quick runs the held-out texts only. No model
call and no timing: the figures are the same on every machine with the same encoder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from lamina.layers.reasoning.summarise import extractive_summary
from lamina.models.encoder import default_encoder

Text = tuple[str, tuple[str, ...]]

DEV: list[Text] = [
    (
        (
            "The city council voted on Tuesday to build a new public library on Elm Street. "
            "Construction starts in May and should take two years. The old library will "
            "stay open until then. Residents can comment on the design online until March."
        ),
        ("council", "library"),
    ),
    (
        (
            "Our quarterly sales rose 12 percent, driven mostly by the new garden range. "
            "Online orders now make up half of all sales. The Leeds shop will close in June "
            "because its lease ends. Staff there will move to the Bradford branch."
        ),
        ("sales", "12"),
    ),
    (
        (
            "The museum will be closed on Mondays from next month to save energy. Opening "
            "hours on other days stay the same. Members can still book private tours on "
            "Mondays. Tickets bought for a Monday will be refunded."
        ),
        ("museum", "closed", "mondays"),
    ),
    (
        (
            "Heavy snow is expected across the north tonight, with up to 20 cm on high "
            "ground. Schools in three districts will open two hours late tomorrow. Drivers "
            "are asked to avoid the mountain pass. Gritters have been out since noon."
        ),
        ("snow", "20"),
    ),
    (
        (
            "We stayed at the hotel for four nights in July. The room was spacious and the "
            "breakfast was excellent. However, the air conditioning broke twice and nobody "
            "came to fix it. I would not stay here again in summer."
        ),
        ("breakfast", "air conditioning"),
    ),
    (
        (
            "I bought these headphones last month. The sound is rich and the noise "
            "cancelling works well on the train. Sadly the ear cushions started to peel "
            "after two weeks. Customer service offered only a partial refund."
        ),
        ("sound", "peel"),
    ),
    (
        (
            "Hi all, the office will be closed on Friday for the electrical inspection. "
            "Please take your laptops home on Thursday evening. The inspection should be "
            "finished by Saturday morning. Thanks for your patience."
        ),
        ("closed", "friday", "laptops"),
    ),
    (
        (
            "I've used this kettle every day since January. It boils quickly and looks "
            "great on the counter. Unfortunately the lid no longer clicks shut and steam "
            "escapes from the side. For forty pounds I expected it to last longer."
        ),
        ("boils", "lid"),
    ),
    (
        (
            "The regional train line between Alder and Brook will run a reduced timetable "
            "all of next week. Engineers are replacing signals near Brook station. Trains "
            "will run every hour instead of every twenty minutes. Replacement buses cover "
            "the late evening services."
        ),
        ("train", "reduced", "signals"),
    ),
    (
        (
            "Our team finished the migration to the new database on Sunday night. Response "
            "times on the dashboard are now roughly twice as fast. Two reports still show "
            "old figures and will be fixed this week. Please tell Sam if you spot anything "
            "else."
        ),
        ("migration", "two reports"),
    ),
]

HELD_OUT: list[Text] = [
    (
        (
            "The new bike lane on King Street opened on Monday. Cyclists say the ride is "
            "faster and feels safer. Shop owners, though, complain that they lost twenty "
            "parking spaces. The council will review the scheme in autumn."
        ),
        ("bike lane", "parking"),
    ),
    (
        (
            "My order arrived a day early and was well packed. The blender is powerful and "
            "easy to clean. But it is much louder than I expected, even on the lowest "
            "setting. I am keeping it, but I wear earplugs."
        ),
        ("blender", "louder"),
    ),
    (
        (
            "The school trip to the science museum is on 14 May. Buses leave at 8 and "
            "return by 4. Each pupil needs a packed lunch and a signed permission slip. The "
            "cost is 12 pounds, due by Friday."
        ),
        ("science museum", "permission"),
    ),
    (
        (
            "Tickets for the summer concert went on sale this morning and sold out within "
            "an hour. Organisers have added a second night on 9 August. Tickets for it go "
            "on sale next Tuesday at 10 am."
        ),
        ("sold out", "second night"),
    ),
    (
        (
            "We have been members of this gym for a year. The equipment is modern and the "
            "classes are fun. The changing rooms, however, are often dirty and the showers "
            "run cold. We are thinking of cancelling when the contract ends."
        ),
        ("equipment", "changing rooms"),
    ),
    (
        (
            "The library's new self-service machines go live on 2 June. Borrowers can "
            "return and renew books without queuing. The front desk will only handle new "
            "memberships and fines from then on. Staff will be on hand to help during the "
            "first week."
        ),
        ("self-service", "2 june"),
    ),
    (
        (
            "I picked up this backpack for a hiking trip in the Alps. It holds a lot and "
            "the hip belt takes the weight off my shoulders. After three days, though, one "
            "zip broke and the rain cover tore. The support team has not replied to my "
            "emails."
        ),
        ("hip belt", "zip"),
    ),
    (
        (
            "Water will be switched off on Oak Road from 9 am to 3 pm on Wednesday. Crews "
            "are repairing a burst main under the junction with Mill Lane. Bottled water "
            "will be handed out at the community hall. Residents should run their taps for "
            "a minute once supply returns."
        ),
        ("water", "oak road", "wednesday"),
    ),
]


def lead(text: str, encoder: Any) -> str:
    """The baseline: the first sentences, as many as lamina keeps (position alone decides)."""
    return extractive_summary(text, encoder, position_weight=1e6, contrast_weight=0.0).text


SYSTEMS: dict[str, Callable[[str, Any], str]] = {
    "lamina": lambda text, encoder: extractive_summary(text, encoder).text,
    "lamina, no contrast": lambda text, encoder: (
        extractive_summary(text, encoder, contrast_weight=0.0).text
    ),
    "lead (baseline)": lead,
}


def score(texts: Sequence[Text], summarise: Callable[[str], str]) -> dict[str, Any]:
    """Texts whose summary keeps every key fact, and the mean length ratio."""
    kept, ratios = 0, []
    for text, facts in texts:
        summary = summarise(text).lower()
        kept += all(fact in summary for fact in facts)
        ratios.append(len(summary) / len(text))
    return {"texts": len(texts), "all_facts_kept": kept, "length_ratio": sum(ratios) / len(ratios)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the held-out texts only")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    encoder = default_encoder()
    splits = {"held_out": HELD_OUT} if args.quick else {"dev": DEV, "held_out": HELD_OUT}
    rows: list[dict[str, Any]] = []
    for split, texts in splits.items():
        for name, system in SYSTEMS.items():

            def summarise(text: str, system: Callable[[str, Any], str] = system) -> str:
                return system(text, encoder)

            rows.append({"split": split, "system": name, **score(texts, summarise)})
    for row in rows:
        base = next(
            r for r in rows if r["split"] == row["split"] and r["system"] == "lead (baseline)"
        )
        row["vs_lead"] = row["all_facts_kept"] - base["all_facts_kept"]
    result = {"quick": args.quick, "baseline": "lead (the first sentences)", "rows": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Extractive summaries: texts with every key fact kept")
    for column in ("split", "system", "texts", "all facts kept", "vs lead", "length / text"):
        table.add_column(column, justify="left" if column in ("split", "system") else "right")
    for row in rows:
        table.add_row(
            row["split"],
            row["system"],
            str(row["texts"]),
            str(row["all_facts_kept"]),
            f"{row['vs_lead']:+d}",
            f"{row['length_ratio']:.2f}",
        )
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
