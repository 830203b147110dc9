"""How a voice assistant's networks understand a request, stage by stage.

A voice assistant runs a pipeline: a small always-on network listens for the wake word,
speech recognition (ASR) turns the request into words, and a language-understanding
model reads the words for the *intent* (what is asked) and the *slots* (its arguments).
Two of these stages are measured here on documented synthetic data (no speech data set
ships offline):

1. **Keyword spotting** on :func:`nnlab.audio.make_keyword_clips`: formant-shaped tone
   "words" in white noise (not recorded speech), classes silence / unknown word / four
   keywords that form two anagram pairs. A small CNN on log-mel spectrograms against a
   logistic regression on the log-mel bands averaged over time, both trained on a mix of
   noise levels and tested at each level; accuracy and the false-alarm rate (silence or
   other words taken for a keyword).
2. **Intent classification and slot filling** on
   :func:`nnlab.data.datasets.commands.load_commands`: templated requests with BIO slot
   tags, tested on templates held out of training. A joint model (shared embedding +
   bidirectional GRU encoder, an intent head on the mean of its states and a tag head on
   each state) against a bag-of-words logistic regression for the intent and a
   logistic regression on a +-1-word window for the tags; intent accuracy and
   entity-level slot F1 (seqeval's definition).

The ASR stage between them is not measured (see the answer).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.audio import KEYWORD_CLASSES, make_keyword_clips, melspectrogram, power_to_db
from nnlab.data.datasets.commands import (
    COMMAND_INTENTS,
    COMMAND_SLOT_TYPES,
    COMMAND_TAGS,
    entity_scores,
    load_commands,
    make_commands,
)
from nnlab.metrics import confusion_matrix
from nnlab.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from nnlab.random import Generator

SNR_LEVELS = (20.0, 10.0, 5.0, 0.0)
ANAGRAM_PARTNER = {2: 3, 3: 2, 4: 5, 5: 4}  # sako<->kosa, mitu<->tumi (class indices)


# ---------------------------------------------------------------- keyword spotting


def log_mel(waveforms: np.ndarray) -> np.ndarray:
    """(N, 1, 32 bands, 32 frames) log-mel features: 32 ms windows every 16 ms, each
    clip in dB below its own loudest bin (floored at -80 dB), so loudness cancels."""
    mel = melspectrogram(waveforms, 8000, n_fft=256, hop_length=128, n_mels=32, f_min=50.0)
    db = power_to_db(mel, top_db=None)
    db = db - db.max(axis=(1, 2), keepdims=True)
    return np.maximum(db, -80.0)[:, None].astype(np.float32)


def keyword_cnn() -> nn.Sequential:
    """Three 3x3 convolutions (16, 32, 32 channels) with max pooling, a global max over
    the remaining time-frequency positions (the word may start anywhere), a linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
        nn.Flatten(), nn.Linear(32, len(KEYWORD_CLASSES)),
    )  # fmt: skip


def fit_classifier(
    model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float
) -> None:
    """Adam on the mini-batches whose indices are the rows of ``order``."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for idx in order:
        loss = F.cross_entropy(model(nnlab.tensor(x[idx])), nnlab.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()


def predict(model: nn.Module, x: np.ndarray, batch: int = 500) -> np.ndarray:
    model.eval()
    with nnlab.no_grad():
        chunks = [model(nnlab.tensor(x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(chunks).argmax(1)


def keyword_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy over the six classes; false-alarm rate: the share of silence and unknown
    clips called a keyword; anagram swaps: the share of keyword clips called their
    anagram partner."""
    negative, keyword = y < 2, y >= 2
    partner = np.array([ANAGRAM_PARTNER.get(int(c), -1) for c in y])
    return {
        "accuracy": float(np.mean(pred == y)),
        "false_alarm": float(np.mean(pred[negative] >= 2)),
        "anagram_swap": float(np.mean(pred[keyword] == partner[keyword])),
    }


def keyword_spotting(
    seed: int, n_train: int, n_test: int, epochs: int
) -> dict[tuple[str, float], dict[str, float]]:
    """Train both spotters on clips at a uniform mix of :data:`SNR_LEVELS`; their scores
    on fresh clips at each level."""
    gen = Generator(seed)
    train = make_keyword_clips(n_train, snr_db=SNR_LEVELS, generator=gen)
    tests = {snr: make_keyword_clips(n_test, snr_db=snr, generator=gen) for snr in SNR_LEVELS}
    x = log_mel(train.waveforms)
    mean, std = float(x.mean()), float(x.std())
    x = (x - mean) / std

    nnlab.manual_seed(seed)
    cnn = keyword_cnn()
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(n_train) for _ in range(epochs)])
    fit_classifier(cnn, x, train.labels, order[: len(order) // 32 * 32].reshape(-1, 32), 3e-3)

    # the baseline sees each band's average over time: the word's sounds but not their order
    logreg = LogisticRegression(max_iter=2000).fit(x.mean(axis=3)[:, 0], train.labels)
    scores = {}
    for snr, clips in tests.items():
        xt = (log_mel(clips.waveforms) - mean) / std
        scores["cnn", snr] = keyword_scores(clips.labels, predict(cnn, xt))
        scores["logreg", snr] = keyword_scores(clips.labels, logreg.predict(xt.mean(axis=3)[:, 0]))
    return scores


# ------------------------------------------------------- intent and slot understanding


class JointNLU(nn.Module):
    """Embedding -> bidirectional GRU; an intent head on the mean of the states over the
    words and a tag head on every state (the joint intent-slot model of Liu & Lane, 2016,
    in its simplest form)."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.encoder = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=True)
        self.intent_head = nn.Linear(2 * hidden_size, len(COMMAND_INTENTS))
        self.slot_head = nn.Linear(2 * hidden_size, len(COMMAND_TAGS))

    def forward(self, ids: nnlab.Tensor, mask: nnlab.Tensor) -> tuple[nnlab.Tensor, nnlab.Tensor]:
        # packed, so the backward direction starts at each request's last word, not at padding
        lengths = mask.numpy().sum(1).astype(np.int64)
        packed = pack_padded_sequence(self.embedding(ids), lengths, True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.encoder(packed)[0], True, total_length=ids.shape[1])
        pooled = (states * mask.unsqueeze(2)).sum(1) / mask.sum(1, keepdim=True)
        return self.intent_head(pooled), self.slot_head(states)


def encode(
    commands: list, index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Word ids (0 = padding, 1 = unknown word), a 0/1 mask, tag ids (-100 on padding, which
    the loss ignores) and intent ids."""
    width = max(len(c.tokens) for c in commands)
    ids = np.zeros((len(commands), width), dtype=np.int64)
    tags = np.full((len(commands), width), -100, dtype=np.int64)
    tag_id = {t: i for i, t in enumerate(COMMAND_TAGS)}
    for row, c in enumerate(commands):
        ids[row, : len(c.tokens)] = [index.get(w, 1) for w in c.tokens]
        tags[row, : len(c.tags)] = [tag_id[t] for t in c.tags]
    intents = np.array([COMMAND_INTENTS.index(c.intent) for c in commands], dtype=np.int64)
    return ids, (ids > 0).astype(np.float32), tags, intents


def train_joint(
    train: list, index: dict[str, int], seed: int, epochs: int, batch: int = 32
) -> JointNLU:
    """Adam, loss = intent cross-entropy + mean tag cross-entropy over the words. One word
    in ten is replaced by the unknown id during training, so the model learns to read a
    word it has never seen from its neighbours (held-out templates bring new words)."""
    ids, mask, tags, intents = encode(train, index)
    nnlab.manual_seed(seed)
    model = JointNLU(len(index) + 2)
    opt = nnlab.optim.Adam(model.parameters(), lr=5e-3)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        for idx in rng.permutation(len(train))[: len(train) // batch * batch].reshape(-1, batch):
            dropped = np.where((rng.random(ids[idx].shape) < 0.1) & (ids[idx] > 0), 1, ids[idx])
            intent_logits, tag_logits = model(nnlab.tensor(dropped), nnlab.tensor(mask[idx]))
            loss = F.cross_entropy(intent_logits, nnlab.tensor(intents[idx])) + F.cross_entropy(
                tag_logits.reshape(-1, len(COMMAND_TAGS)), nnlab.tensor(tags[idx].reshape(-1))
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def joint_predict(model: JointNLU, commands: list, index: dict[str, int]) -> tuple:
    """Predicted intent names and tag sequences (cut to each request's length)."""
    ids, mask, _, _ = encode(commands, index)
    model.eval()
    with nnlab.no_grad():
        intent_logits, tag_logits = model(nnlab.tensor(ids), nnlab.tensor(mask))
    intents = [COMMAND_INTENTS[i] for i in intent_logits.numpy().argmax(1)]
    tag_ids = tag_logits.numpy().argmax(2)
    tags = [[COMMAND_TAGS[t] for t in row[: len(c.tokens)]] for row, c in zip(tag_ids, commands)]
    return intents, tags


def window_features(tokens: tuple[str, ...]) -> list[dict[str, int]]:
    """Each word with its left and right neighbours, as sparse indicator features."""
    padded = ("<s>", *tokens, "</s>")
    return [
        {f"w={padded[i]}": 1, f"prev={padded[i - 1]}": 1, f"next={padded[i + 1]}": 1}
        for i in range(1, len(padded) - 1)
    ]


def baselines(train: list, tests: dict[str, list]) -> dict[str, dict]:
    """Bag-of-words logistic regression for the intent and a +-1-word window logistic
    regression for the tags; their predictions on every test set."""
    bow = CountVectorizer(token_pattern=r"\S+")
    intent_lr = LogisticRegression(max_iter=2000).fit(
        bow.fit_transform([c.text for c in train]), [c.intent for c in train]
    )
    vec = DictVectorizer()
    rows = vec.fit_transform([f for c in train for f in window_features(c.tokens)])
    tag_lr = LogisticRegression(max_iter=2000).fit(rows, [t for c in train for t in c.tags])
    out = {}
    for name, commands in tests.items():
        rows = vec.transform([f for c in commands for f in window_features(c.tokens)])
        flat = tag_lr.predict(rows)
        cuts = np.cumsum([len(c.tokens) for c in commands])[:-1]
        out[name] = {
            "intents": list(intent_lr.predict(bow.transform([c.text for c in commands]))),
            "tags": [list(part) for part in np.split(flat, cuts)],
        }
    return out


def understanding(seed: int, n_train: int, n_test: int, epochs: int) -> dict:
    """Train the joint model and the baselines on seen templates; intent accuracy, slot F1
    and its per-type breakdown on held-out templates and on fresh requests from the seen
    ones; the intent confusion counts on held-out templates."""
    data = load_commands(n_train, n_test, seed=seed)
    tests = {
        "held_out": data["test"],
        "seen": make_commands(n_test, templates="train", generator=Generator(seed + 10_000)),
    }
    words = sorted({w for c in data["train"] for w in c.tokens})
    index = {w: i + 2 for i, w in enumerate(words)}
    model = train_joint(data["train"], index, seed, epochs)
    predictions = {"joint": {}, "baseline": baselines(data["train"], tests)}
    for name, commands in tests.items():
        intents, tags = joint_predict(model, commands, index)
        predictions["joint"][name] = {"intents": intents, "tags": tags}
    result = {}
    for arm, by_test in predictions.items():
        for name, pred in by_test.items():
            commands = tests[name]
            scores = entity_scores([c.tags for c in commands], pred["tags"])
            result[arm, name] = {
                "intent_accuracy": float(
                    np.mean([p == c.intent for p, c in zip(pred["intents"], commands)])
                ),
                "slot_f1": scores["f1"],
                "per_type": {k: v["f1"] for k, v in scores["per_type"].items()},
            }
    held = tests["held_out"]
    result["confusion"] = confusion_matrix(
        [COMMAND_INTENTS.index(c.intent) for c in held],
        [COMMAND_INTENTS.index(p) for p in predictions["joint"]["held_out"]["intents"]],
        num_classes=len(COMMAND_INTENTS),
    )
    return result


# ------------------------------------------------------------------ the experiment


def mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


@experiment(
    "virtual-assistants",
    answers=["virtual-assistants"],
    quick=dict(n_clips=360, n_clips_test=120, kws_epochs=4, n_requests=400,
               n_requests_test=200, nlu_epochs=3, n_seeds=1),
    full=dict(n_clips=1500, n_clips_test=300, kws_epochs=10, n_requests=2000,
              n_requests_test=600, nlu_epochs=8, n_seeds=3),
)  # fmt: skip
def virtual_assistants(
    run: Run,
    n_clips: int,
    n_clips_test: int,
    kws_epochs: int,
    n_requests: int,
    n_requests_test: int,
    nlu_epochs: int,
    n_seeds: int,
) -> None:
    """How do a voice assistant's networks spot the wake word and read the request?"""
    seeds = run.seeds(n_seeds)
    kws = [keyword_spotting(s, n_clips, n_clips_test, kws_epochs) for s in seeds]
    nlu = [understanding(s, n_requests, n_requests_test, nlu_epochs) for s in seeds]

    # --- keyword spotting: table, figure, claims
    def kws_stat(arm: str, snr: float, key: str) -> tuple[float, float]:
        return mean_std([r[arm, snr][key] for r in kws])

    rows = []
    for snr in SNR_LEVELS:
        for arm in ("cnn", "logreg"):
            acc, fa, swap = (
                kws_stat(arm, snr, k) for k in ("accuracy", "false_alarm", "anagram_swap")
            )
            rows.append((f"{snr:g}", arm, round(acc[0], 3), round(acc[1], 3), round(fa[0], 3),
                         round(swap[0], 3)))  # fmt: skip
            run.number(f"kws_{arm}_accuracy_snr{snr:g}", round(acc[0], 4))
            run.number(f"kws_{arm}_false_alarm_snr{snr:g}", round(fa[0], 4))
    run.table(
        f"Keyword spotting on held-out synthetic clips ({n_seeds} seeds)",
        ("SNR dB", "model", "accuracy", "std", "false-alarm rate", "anagram swaps"),
        rows,
    )
    fig = run.figure("keyword_noise", "Keyword spotting: accuracy and false alarms against noise")
    ax_acc, ax_fa = fig.subplots(1, 2)
    for arm, colour, label in (("cnn", "C0", "CNN on log-mel"),
                               ("logreg", "C3", "logistic regression, time-averaged")):  # fmt: skip
        for ax, key in ((ax_acc, "accuracy"), (ax_fa, "false_alarm")):
            stats = [kws_stat(arm, snr, key) for snr in SNR_LEVELS]
            ax.errorbar(SNR_LEVELS, [m for m, _ in stats], yerr=[s for _, s in stats],
                        color=colour, marker="o", capsize=3, label=label)  # fmt: skip
    ax_acc.set(xlabel="SNR (dB)", ylabel="accuracy (6 classes)", ylim=(0, 1.02))
    ax_fa.set(xlabel="SNR (dB)", ylabel="false-alarm rate")
    ax_acc.invert_xaxis()
    ax_fa.invert_xaxis()
    ax_acc.legend(fontsize=8)

    cnn_10, lr_10 = kws_stat("cnn", 10.0, "accuracy")[0], kws_stat("logreg", 10.0, "accuracy")[0]
    cnn_20, cnn_0 = kws_stat("cnn", 20.0, "accuracy")[0], kws_stat("cnn", 0.0, "accuracy")[0]
    fa_20 = kws_stat("cnn", 20.0, "false_alarm")[0]
    swap_lr = kws_stat("logreg", 20.0, "anagram_swap")[0]
    swap_cnn = kws_stat("cnn", 20.0, "anagram_swap")[0]
    run.claim(
        "The CNN on log-mel frames beats logistic regression on time-averaged log-mel by at "
        "least 15 accuracy points at 10 dB SNR",
        cnn_10 - lr_10 >= 0.15,
        f"CNN {cnn_10:.3f}, logistic regression {lr_10:.3f}",
        quick=False,
    )
    run.claim(
        "Averaging over time loses word order: logistic regression calls at least 20% of "
        "keyword clips by their anagram partner at 20 dB, the CNN at most 5%",
        swap_lr >= 0.20 and swap_cnn <= 0.05,
        f"anagram swaps: logistic regression {swap_lr:.3f}, CNN {swap_cnn:.3f}",
        quick=False,
    )
    run.claim(
        "Noise costs the CNN accuracy: at 0 dB at least 3 points below its 20 dB accuracy",
        cnn_20 - cnn_0 >= 0.03,
        f"CNN accuracy {cnn_20:.3f} at 20 dB, {cnn_0:.3f} at 0 dB",
        quick=False,
    )
    run.claim(
        "At 20 dB the CNN takes at most 5% of silence and other-word clips for a keyword",
        fa_20 <= 0.05,
        f"false-alarm rate {fa_20:.3f}",
        quick=False,
    )

    # --- intent and slots: tables, figures, claims
    def nlu_stat(arm: str, test: str, key: str) -> tuple[float, float]:
        return mean_std([r[arm, test][key] for r in nlu])

    rows = []
    for arm, label in (("joint", "joint GRU"), ("baseline", "logistic regressions")):
        for test in ("held_out", "seen"):
            acc, f1 = nlu_stat(arm, test, "intent_accuracy"), nlu_stat(arm, test, "slot_f1")
            run.number(f"{arm}_{test}_intent_accuracy", round(acc[0], 4))
            run.number(f"{arm}_{test}_slot_f1", round(f1[0], 4))
            rows.append((label, test.replace("_", "-"), round(acc[0], 3), round(acc[1], 3),
                         round(f1[0], 3), round(f1[1], 3)))  # fmt: skip
    run.table(
        f"Intent accuracy and entity-level slot F1 ({n_seeds} seeds; baselines: bag-of-words "
        "intent, +-1-word-window tags)",
        ("model", "templates", "intent acc", "std", "slot F1", "std"),
        rows,
    )
    per_type = {
        arm: {t: mean_std([r[arm, "held_out"]["per_type"].get(t, 0.0) for r in nlu])
              for t in COMMAND_SLOT_TYPES}
        for arm in ("joint", "baseline")
    }  # fmt: skip
    run.table(
        "Slot F1 per slot type on held-out templates (mean over seeds)",
        ("slot", "joint GRU", "window logistic regression"),
        [(t, round(per_type["joint"][t][0], 3), round(per_type["baseline"][t][0], 3))
         for t in COMMAND_SLOT_TYPES],
    )  # fmt: skip

    fig = run.figure("intent_confusion", "Intent confusion of the joint model, held-out templates")
    ax = fig.subplots()
    counts = sum(r["confusion"] for r in nlu)
    ax.imshow(counts / counts.sum(1, keepdims=True), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(COMMAND_INTENTS)), COMMAND_INTENTS, rotation=45, ha="right")
    ax.set_yticks(range(len(COMMAND_INTENTS)), COMMAND_INTENTS)
    ax.set(xlabel="predicted intent", ylabel="true intent")
    for i in range(len(COMMAND_INTENTS)):
        for j in range(len(COMMAND_INTENTS)):
            if counts[i, j]:
                ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7)

    fig = run.figure("slot_f1_per_type", "Entity-level slot F1 per slot type, held-out templates")
    ax = fig.subplots()
    pos = np.arange(len(COMMAND_SLOT_TYPES))
    for shift, arm, colour, label in (
        (-0.2, "joint", "C0", "joint GRU"),
        (0.2, "baseline", "C3", "window logistic regression"),
    ):
        stats = [per_type[arm][t] for t in COMMAND_SLOT_TYPES]
        ax.bar(pos + shift, [m for m, _ in stats], 0.4, yerr=[s for _, s in stats], color=colour,
               capsize=2, label=label)  # fmt: skip
    ax.set_xticks(pos, COMMAND_SLOT_TYPES, rotation=45, ha="right")
    ax.set(ylabel="slot F1", ylim=(0, 1.05))
    ax.legend(fontsize=8)

    bow_acc = nlu_stat("baseline", "held_out", "intent_accuracy")[0]
    joint_acc = nlu_stat("joint", "held_out", "intent_accuracy")[0]
    joint_f1 = nlu_stat("joint", "held_out", "slot_f1")[0]
    window_f1 = nlu_stat("baseline", "held_out", "slot_f1")[0]
    gaps = [r["joint", "seen"]["slot_f1"] - r["joint", "held_out"]["slot_f1"] for r in nlu]
    run.claim(
        "A bag-of-words logistic regression gets at least 85% of held-out-template intents "
        "right: intent is carried mostly by a few words",
        bow_acc >= 0.85,
        f"intent accuracy {bow_acc:.3f}",
        quick=False,
    )
    run.claim(
        "The joint GRU model gets at least 90% of held-out-template intents right",
        joint_acc >= 0.90,
        f"intent accuracy {joint_acc:.3f}",
        quick=False,
    )
    run.claim(
        "The joint GRU model's entity-level slot F1 on held-out templates is at least 0.80",
        joint_f1 >= 0.80,
        f"slot F1 {joint_f1:.3f}",
        quick=False,
    )
    run.claim(
        "Reading the whole request beats a +-1-word window: the joint model's held-out slot "
        "F1 exceeds the window logistic regression's",
        joint_f1 > window_f1,
        f"joint {joint_f1:.3f}, window {window_f1:.3f}",
        quick=False,
    )
    run.claim(
        "New phrasings are harder than new values: for every seed the joint model's slot "
        "F1 is lower on held-out templates than on seen ones",
        min(gaps) > 0,
        f"seen minus held-out slot F1 per seed: {', '.join(f'{g:.3f}' for g in gaps)}",
        quick=False,
    )

    worst = min(COMMAND_SLOT_TYPES, key=lambda t: per_type["joint"][t][0])
    off = counts * (1 - np.eye(len(COMMAND_INTENTS), dtype=counts.dtype))
    true_i, pred_i = np.unravel_index(off.argmax(), off.shape)
    seen_acc = nlu_stat("joint", "seen", "intent_accuracy")[0]
    run.answer(
        f"Two of the assistant's networks were measured on synthetic stand-ins ({n_seeds} "
        f"seeds). Wake-word spotting: a small CNN reading the log-mel spectrogram frame by "
        f"frame scored {cnn_20:.1%} accuracy at 20 dB SNR and {cnn_0:.1%} at 0 dB over six "
        f"classes, with {fa_20:.1%} of silence and other words taken for a keyword at 20 dB; "
        f"a logistic regression on the same features averaged over time scored {lr_10:.1%} "
        f"at 10 dB (CNN {cnn_10:.1%}) and called {swap_lr:.1%} of keywords by their anagram "
        f"partner (CNN {swap_cnn:.1%}): a spotter must model the order of sounds. "
        f"Understanding: on request phrasings never seen in training, a bag-of-words "
        f"logistic regression found the intent {bow_acc:.1%} of the time and the joint GRU "
        f"{joint_acc:.1%} (the GRU {seen_acc:.1%} on new requests in seen phrasings); the "
        f"GRU's most frequent mistake read '{COMMAND_INTENTS[true_i]}' as "
        f"'{COMMAND_INTENTS[pred_i]}' ({int(off[true_i, pred_i])} of "
        f"{int(counts[true_i].sum())} such requests). The joint model's tag head found the "
        f"slots (whole entities, type and boundaries) with F1 {joint_f1:.3f} against "
        f"{window_f1:.3f} for a +-1-word-window tagger, weakest on '{worst}' "
        f"({per_type['joint'][worst][0]:.3f}). Not measured here: speech recognition, "
        f"which in a real assistant sits between the two (a streaming acoustic model and "
        f"language model turning audio into words, or an end-to-end model going from audio "
        f"to intent), and whose word errors the understanding model must absorb; real "
        f"speech, accents, far-field noise and open-ended slot values make every number "
        f"above an optimistic bound."
    )
