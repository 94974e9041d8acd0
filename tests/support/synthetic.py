"""Synthetic stories for benchmarks, crash and load tests.

`write_synthetic_stories(root, n, seed)` writes n valid story files under
root/stories/ with public consent and approaches drawn from
root/approaches/*.yml. The text is made of words only (and small numbers
such as ages and years of support), so the personal-data scanner finds
nothing in it, and every narrative is distinct, so `add` accepts a copy.
"""
from __future__ import annotations

import random
from pathlib import Path

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

FIRST_NAMES = (
    "Ada", "Bill", "Carys", "Dev", "Elsie", "Femi", "Grace", "Harun", "Iris", "Joe", "Kiran", "Lena",
    "Marek", "Nell", "Owen", "Priya", "Quentin", "Rosa", "Sam", "Tariq", "Una", "Vic", "Wyn", "Yusuf",
)
ROLES = ("person supported", "Shared Lives carer", "neighbour", "volunteer", "local area coordinator",
         "family carer", "micro-entrepreneur", "homesharer", "befriender")
PLACES = ("Leeds", "Somerset", "Thurrock", "Derby", "Cornwall", "Glasgow", "Bristol", "Kent", "Norfolk",
          "Swansea", "Camden", "Sheffield", "")
ORGS = ("Shared Lives Plus", "Community Catalysts", "Local Area Coordination Network", "Homeshare UK",
        "St Joseph's Hospice", "The Cares Family", "GoodGym")
OPENINGS = (
    "{name} had lived alone since {pron} partner died and rarely left the house.",
    "After a long stay in hospital, {name} wanted to go home but worried about managing.",
    "{name} moved to the town for work and knew nobody in the street.",
    "For years {name} had been told what {pron2} could not do.",
    "{name} was spending most days in front of the television, waiting for the carer's visit.",
)
MIDDLES = (
    "Through {approach}, {name} met {other}, who lived nearby and shared a love of {hobby}.",
    "{other} helped {name} find the {hobby} group that meets every week at the library.",
    "A coordinator sat down with {name} and asked what a good life would look like.",
    "Together they planned small steps: a walk to the shop, then a bus trip, then the {hobby} club.",
    "{name} began to cook for {other} on Sundays, and the meals became a fixture of the week.",
    "The support was built around what {name} could do rather than what {pron2} could not.",
    "Neighbours started to drop in, and {name} became the person people asked about {hobby}.",
)
CLOSINGS = (
    "\"I feel part of something again,\" {name} said.",
    "{name} now volunteers at the {hobby} group and helps newcomers settle in.",
    "\"It is the first time in years I have looked forward to the weekend,\" {name} said.",
    "{other} says the friendship has changed {pron3} life as much as {name}'s.",
    "{name} says the difference is simple: \"Someone asks me what I think.\"",
)
HOBBIES = ("gardening", "knitting", "football", "chess", "baking", "birdwatching", "music", "painting",
           "walking", "local history", "woodwork", "singing", "fishing", "pottery", "poetry")
WORDS = ("bright", "steady", "quiet", "careful", "patient", "gentle", "warm", "open", "practical",
         "curious", "cheerful", "thoughtful", "kind", "honest", "brave", "calm")


def _approaches(root: Path) -> list[tuple[str, str]]:
    out = []
    for p in sorted((Path(root) / "approaches").glob("*.yml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        out.append((p.stem, str(data.get("name") or p.stem)))
    if not out:
        raise ValueError(f"{root}/approaches has no *.yml files to draw approaches from")
    return out


def synthetic_story(i: int, rng: random.Random, approaches: list[tuple[str, str]], prefix: str = "synthetic") -> tuple[str, str]:
    """(story id, file text) of one synthetic story."""
    approach_id, approach_name = rng.choice(approaches)
    name, other = rng.sample(FIRST_NAMES, 2)
    pron, pron2, pron3 = rng.choice((("her", "she", "her"), ("his", "he", "his"), ("their", "they", "their")))
    hobby = rng.choice(HOBBIES)
    words = rng.sample(WORDS, 3)
    story_id = f"{prefix}-{i:05d}-{name.lower()}-{hobby.split()[0]}"
    fill = {"name": name, "other": other, "pron": pron, "pron2": pron2, "pron3": pron3, "hobby": hobby,
            "approach": approach_name}
    paragraphs = []
    for _ in range(rng.randint(3, 6)):
        sentences = [rng.choice(OPENINGS)] + rng.sample(MIDDLES, 3) + [rng.choice(CLOSINGS)]
        paragraphs.append(" ".join(s.format(**fill) for s in sentences))
    # a distinct closing line, so no two narratives are the same
    paragraphs.append(f"Story {i} of the synthetic set: {words[0]}, {words[1]} and {words[2]}; "
                      f"{name} has had support for {rng.randint(1, 20)} years and is {rng.randint(20, 95)}.")
    front = {
        "id": story_id,
        "title": f"{name} and {other}: {hobby} and a {words[0]} new start",
        "summary": f"{name} found company and purpose through {approach_name}, with {other}.",
        "people": [{"name": name, "role": "person supported"}, {"name": other, "role": rng.choice(ROLES)}],
        "approach": approach_id,
        "organisation": rng.choice(ORGS),
        "place": rng.choice(PLACES),
        "source": {"title": f"Synthetic stories, set {prefix}", "organisation": "evidence test suite"},
        "consent": {
            "basis": "published-by-organisation", "scope": "public", "identity": "named",
            "date": "2026-01-01", "recorded_by": "synthetic generator",
            "wording": "Synthetic story for tests and benchmarks; no real person.",
        },
        "status": "published",
        "added": "2026-01-01",
    }
    fm = yaml.dump(front, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return story_id, f"---\n{fm}---\n" + "\n\n".join(paragraphs) + "\n"


def write_synthetic_stories(root: str | Path, n: int, seed: int = 0, prefix: str = "synthetic") -> list[Path]:
    """Write n valid synthetic story files to root/stories/ (public consent,
    random approaches from root/approaches/*.yml); return their paths."""
    root = Path(root)
    rng = random.Random(seed)
    approaches = _approaches(root)
    folder = root / "stories"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        story_id, text = synthetic_story(i, rng, approaches, prefix)
        path = folder / f"{story_id}.md"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
