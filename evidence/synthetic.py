"""Synthetic stories for benchmarks and load tests: valid story files with
public consent, random approaches and places, and varied sentences. Not
evidence: their ids start with `synthetic-` and their source says so."""
from __future__ import annotations

import random
from pathlib import Path

NAMES = ["Aisha", "Bill", "Carol", "Dev", "Edna", "Femi", "Gwen", "Hari", "Iris", "Joe", "Kemi", "Len",
         "Maya", "Noel", "Olu", "Priya", "Quinn", "Rosa", "Stan", "Tara", "Uma", "Vic", "Wyn", "Yusuf"]
PLACES = ["Somerset", "Leeds", "Wigan", "Thurrock", "Manchester", "Birmingham", "Cornwall", "Derby",
          "Norwich", "Bristol", "Kent", "Cumbria", "Hull", "Leicester", "Brighton", "York"]
OPENINGS = [
    "{n} had lived alone since {pr} partner died and rarely left the house.",
    "After years in a care home, {n} wanted a place of {pr} own.",
    "{n} was referred after several falls and a hospital stay.",
    "{n} had been in and out of mental health services for a decade.",
    "Since the day centre closed, {n} had nowhere to go during the week.",
    "{n} was spending most days in bed and missing meals.",
    "Neighbours noticed that {n} had stopped coming to the shop.",
]
MIDDLES = [
    "Through {a}, {n} met a volunteer who now visits every week.",
    "A coordinator from {a} helped {n} find a local walking group.",
    "{n} now cooks with a carer and eats proper meals again.",
    "With support from {a}, {n} started volunteering at the community garden.",
    "{n} chose who supports {ob} and decides how the day goes.",
    "{n} feels safe at home again after a carer helped set up simple routines.",
    "{n} found paid work two mornings a week at a local cafe.",
    "The house is clean and warm now, and {n} is proud to have visitors.",
    "Staff treat {n} with respect and listen to what {pr} wants.",
]
ENDINGS = [
    "\"I feel like part of the community again,\" {n} said.",
    "{n} has not been back to hospital since.",
    "{n} says the best part is having friends to talk to.",
    "Now {n} helps other people in the same situation.",
    "The GP says {n} needs far fewer appointments.",
]


def synthetic_story(i: int, approaches: list[str], rng: random.Random) -> str:
    """The text of one valid synthetic story file."""
    n = rng.choice(NAMES)
    pr, ob = rng.choice([("her", "her"), ("his", "him"), ("their", "them")])
    a = rng.choice(approaches)
    place = rng.choice(PLACES)
    sentences = [rng.choice(OPENINGS)] + rng.sample(MIDDLES, 3) + [rng.choice(ENDINGS)]
    body = " ".join(s.format(n=n, pr=pr, ob=ob, a=a.replace("-", " ")) for s in sentences)
    body = body[0].upper() + body[1:] + f" (Synthetic story {i}.)"
    return f"""---
id: synthetic-{i:06d}
title: "{n} and {a.replace('-', ' ')} in {place} ({i})"
summary: "A synthetic story for benchmarks."
people:
  - name: {n}
    role: person supported
approach: {a}
organisation: ""
place: {place}
source:
  title: Synthetic benchmark corpus
  organisation: evidence benchmarks
consent:
  basis: given-by-person
  scope: public
  identity: named
  date: 2026-01-01
  recorded_by: benchmark
  wording: synthetic
status: published
added: 2026-01-01
---
{body}
"""


def write_synthetic_stories(root: str | Path, n: int, seed: int = 1) -> list[Path]:
    """Write n synthetic stories into root/stories using root's approaches."""
    root = Path(root)
    approaches = sorted(p.stem for p in (root / "approaches").glob("*.yml"))
    if not approaches:
        raise ValueError(f"{root}/approaches has no approach files")
    rng = random.Random(seed)
    out = []
    (root / "stories").mkdir(exist_ok=True)
    for i in range(n):
        p = root / "stories" / f"synthetic-{i:06d}.md"
        p.write_text(synthetic_story(i, approaches, rng), encoding="utf-8")
        out.append(p)
    return out
