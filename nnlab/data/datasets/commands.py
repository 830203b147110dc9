"""Voice-assistant requests: an intent for the whole request and a BIO slot tag per word.

What an assistant's language-understanding step sees after speech recognition is a line of
words (``"hey wake me up at half past eight tomorrow"``); it must say what is asked (the
*intent*, ``set_alarm``) and pick out the arguments (the *slots*: ``time`` = "half past
eight", ``date`` = "tomorrow"). Public benchmarks of this shape (ATIS, SNIPS) do not ship
offline, so this module **generates** such requests from hand-written templates: eight
intents, each with eight templates, whose ``{slot}`` placeholders are filled with values
drawn from fixed lists; an optional politeness prefix ("hey", "could you") and suffix
("please", "thanks") add variety. Every word gets a tag in the BIO scheme (IOB2): ``B-type``
on the first word of a slot value, ``I-type`` on the following ones, ``O`` elsewhere.

The last two templates of every intent are **held out** (:data:`HELD_OUT_TEMPLATES`):
``load_commands`` trains on the other six and tests on these two only, so the test asks
for new phrasings of known requests (words and word orders training never showed), not
for recall of memorised sentences. Slot values are shared by both splits.

It is synthetic and says so: real requests are noisier (recognition errors, disfluencies,
values not in any list), and the numbers measured on it are upper bounds of what the same
models do on people's speech.

:func:`bio_entities` reads the spans back from a tag sequence and :func:`entity_scores`
scores predicted tags against true ones at the level of whole entities, as ``seqeval``
(the CoNLL evaluation) does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnlab.data.preprocessing import _seeded_rng

# Scored by entity, as seqeval does; re-exported here for the code that reads both together.
from nnlab.metrics.sequence_labeling import bio_entities, entity_scores  # noqa: F401
from nnlab.random import Generator

__all__ = [
    "COMMAND_INTENTS",
    "COMMAND_SLOT_TYPES",
    "COMMAND_TAGS",
    "COMMAND_TEMPLATES",
    "HELD_OUT_TEMPLATES",
    "SLOT_VALUES",
    "Command",
    "make_commands",
    "load_commands",
]

#: The values each slot type takes (lower case, words separated by single spaces).
SLOT_VALUES: dict[str, tuple[str, ...]] = {
    "time": ("seven am", "7 am", "six thirty", "noon", "half past eight", "nine fifteen pm",
             "midnight", "five o'clock", "10 30 pm", "quarter to seven"),
    "date": ("tomorrow", "today", "monday", "next friday", "this weekend", "tonight",
             "saturday morning", "the day after tomorrow"),
    "duration": ("five minutes", "10 minutes", "an hour", "half an hour", "90 seconds",
                 "two hours", "twenty five minutes", "three minutes"),
    "location": ("london", "paris", "new york", "san francisco", "tokyo", "berlin",
                 "cape town", "rio de janeiro", "oslo", "mexico city"),
    "artist": ("taylor swift", "the beatles", "miles davis", "daft punk", "adele",
               "bob marley", "radiohead", "nina simone", "coldplay", "kendrick lamar"),
    "genre": ("jazz", "classical", "lo fi", "rock", "hip hop", "country", "ambient", "reggae"),
    "item": ("milk", "eggs", "paper towels", "olive oil", "two lemons", "dog food",
             "coffee beans", "batteries", "a birthday card", "toothpaste"),
    "list_name": ("shopping", "grocery", "to do", "packing", "hardware store"),
    "contact": ("mom", "dad", "alice", "bob smith", "doctor patel", "the office", "grandma",
                "james", "maria lopez", "uncle joe"),
    "message": ("i am running late", "see you soon", "call me back", "dinner is ready",
                "on my way", "happy birthday", "the meeting moved to three"),
    "task": ("take out the trash", "water the plants", "pay the rent", "buy flowers",
             "call the dentist", "pick up the kids", "take my medicine"),
}  # fmt: skip

#: Eight templates per intent; the last two of each are held out of training.
COMMAND_TEMPLATES: dict[str, tuple[str, ...]] = {
    "set_alarm": (
        "set an alarm for {time}", "wake me up at {time}", "set an alarm for {time} {date}",
        "alarm at {time}", "i need an alarm at {time}", "can you wake me at {time} {date}",
        "get me up at {time} {date}", "make an alarm for {time}",
    ),
    "set_timer": (
        "set a timer for {duration}", "start a {duration} timer", "timer for {duration}",
        "count down {duration}", "set a {duration} countdown", "start a timer for {duration}",
        "let me know when {duration} is up", "time {duration} for me",
    ),
    "get_weather": (
        "what is the weather in {location}", "what's the weather like {date}",
        "will it rain in {location} {date}", "weather forecast for {location}",
        "is it going to be cold in {location}", "how hot will it be {date}",
        "do i need an umbrella in {location} {date}", "tell me the forecast for {location} {date}",
    ),
    "play_music": (
        "play {artist}", "play some {genre}", "put on {artist}", "i want to hear {genre}",
        "play songs by {artist}", "shuffle {artist}",
        "i am in the mood for {artist}", "throw on some {genre} music",
    ),
    "add_to_list": (
        "add {item} to my {list_name} list", "put {item} on the {list_name} list",
        "add {item} to the list", "i need to buy {item}", "put {item} on my list",
        "add {item} to {list_name}",
        "{item} goes on my {list_name} list", "we are out of {item}",
    ),
    "call_contact": (
        "call {contact}", "phone {contact}", "give {contact} a call", "dial {contact}",
        "ring {contact}", "call {contact} on speaker",
        "get {contact} on the phone", "i want to talk to {contact}",
    ),
    "send_message": (
        "text {contact} {message}", "send a message to {contact} saying {message}",
        "tell {contact} that {message}", "message {contact} {message}",
        "send {contact} a text {message}", "text {contact} saying {message}",
        "let {contact} know {message}", "write to {contact} {message}",
    ),
    "set_reminder": (
        "remind me to {task} {date}", "remind me to {task} at {time}",
        "set a reminder to {task}", "don't let me forget to {task}",
        "reminder {task} {date} at {time}", "create a reminder to {task} at {time}",
        "make sure i {task} {date}", "i need a reminder to {task} at {time}",
    ),
}  # fmt: skip

#: How many templates of each intent (the last ones) only the test split uses.
HELD_OUT_TEMPLATES = 2

COMMAND_INTENTS: tuple[str, ...] = tuple(COMMAND_TEMPLATES)
COMMAND_SLOT_TYPES: tuple[str, ...] = tuple(SLOT_VALUES)
#: The tag vocabulary, by id: ``O``, then ``B-type``, ``I-type`` for each slot type.
COMMAND_TAGS: tuple[str, ...] = ("O",) + tuple(
    f"{bio}-{slot}" for slot in COMMAND_SLOT_TYPES for bio in ("B", "I")
)

# Politeness around the request: frequent in speech, uninformative about the intent.
_PREFIXES = ("", "", "", "hey", "ok", "please", "could you", "hey assistant")
_SUFFIXES = ("", "", "", "please", "thanks", "thank you", "now")


class Command(NamedTuple):
    """One request: its words, one BIO tag per word, and its intent."""

    text: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    intent: str


def _fill(template: str, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """The words of ``template`` with each ``{slot}`` replaced by a random value, and their
    BIO tags."""
    tokens: list[str] = []
    tags: list[str] = []
    for word in template.split():
        if word.startswith("{") and word.endswith("}"):
            slot = word[1:-1]
            values = SLOT_VALUES[slot]
            value = values[rng.integers(len(values))].split()
            tokens += value
            tags += [f"B-{slot}"] + [f"I-{slot}"] * (len(value) - 1)
        else:
            tokens.append(word)
            tags.append("O")
    return tokens, tags


def make_commands(
    n: int,
    seed: int | None = None,
    *,
    templates: str = "all",
    generator: Generator | None = None,
) -> list[Command]:
    """``n`` random requests: a uniform intent, a uniform template of it, uniform slot
    values, and a politeness prefix and suffix (empty three times in eight).

    Args:
        n: number of requests.
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator).
        templates: ``"all"``, ``"train"`` (never a held-out template) or ``"test"`` (only
            the :data:`HELD_OUT_TEMPLATES` last templates of each intent).

    Returns:
        A list of :class:`Command`; ``len(c.tokens) == len(c.tags)`` for each.

    Example:
        >>> c = make_commands(1, seed=3, templates="test")[0]
        >>> c.text
        'let dad know happy birthday'
        >>> c.intent, c.tags
        ('send_message', ('O', 'B-contact', 'O', 'B-message', 'I-message'))
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"make_commands: n must be a non-negative int, got {n!r}")
    if templates not in ("all", "train", "test"):
        raise ValueError(
            f"make_commands: templates must be 'all', 'train' or 'test', got {templates!r}"
        )
    rng = _seeded_rng("make_commands", seed, generator)
    out = []
    for _ in range(n):
        intent = COMMAND_INTENTS[rng.integers(len(COMMAND_INTENTS))]
        pool = COMMAND_TEMPLATES[intent]
        if templates == "train":
            pool = pool[:-HELD_OUT_TEMPLATES]
        elif templates == "test":
            pool = pool[-HELD_OUT_TEMPLATES:]
        template = pool[rng.integers(len(pool))]
        prefix = _PREFIXES[rng.integers(len(_PREFIXES))]
        suffix = _SUFFIXES[rng.integers(len(_SUFFIXES))]
        tokens, tags = _fill(f"{prefix} {template} {suffix}", rng)
        out.append(Command(" ".join(tokens), tuple(tokens), tuple(tags), intent))
    return out


def load_commands(n_train: int = 4000, n_test: int = 1000, seed: int = 0) -> dict[str, list]:
    """Training requests from the seen templates and test requests from the held-out ones.

    Args:
        n_train, n_test: split sizes (default: 4000 and 1000).
        seed: seeds both splits (they use different streams of one generator).

    Example:
        >>> data = load_commands(100, 20, seed=0)
        >>> len(data["train"]), len(data["test"])
        (100, 20)
    """
    gen = Generator(seed)
    return {
        "train": make_commands(n_train, templates="train", generator=gen),
        "test": make_commands(n_test, templates="test", generator=gen),
    }
