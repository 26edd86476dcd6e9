"""Acknowledgements: what a listener says to show they follow ("mm-hm", "okay", "I see").

Said over the assistant's reply, such words ask for nothing: the reply goes on. The class is
made of words, not phrases, so "oh okay", "yeah I see", "right, got it, thanks" all belong,
while a single word outside it ("okay, and what about tomorrow", "stop", "no") makes a
request. Vocal sounds are matched by shape, since speech recognition spells them every way
("Mm-hmm", "Mhm", "Uh-huh", "Uh-uh", "Hmmm").

"no" and "wait" are left out on purpose: over a reply they mean "stop".
"""

from __future__ import annotations

import re

# Words that acknowledge on their own ("okay", "right") or only with the others ("I see",
# "got it", "makes sense", "of course", "thank you", "go on", "that's great").
ACKNOWLEDGEMENT_WORDS = frozenset(
    """
    okay ok okey kay alright yeah yea yes yep yup aye right sure fine good great cool nice
    perfect lovely wonderful awesome excellent brilliant gotcha thanks cheers true exactly
    indeed absolutely definitely totally certainly wow interesting really
    i see got it makes sense sounds know of course thank you go on that's thats all so well
    very pretty quite
    """.split()
)
# Hesitations and backchannel sounds: "mm", "hmm", "mhm", "uh", "um", "ah", "oh", "er",
# "huh", and their hyphenated pairs ("mm-hmm", "uh-huh").
_VOCAL_SOUND = re.compile(r"(?:h*m+(?:h+m*)*|h+|u+h*|u+m+|a+h*|o+h*|e+r*h*|h+u+h+|h+a+)")
_WORD = re.compile(r"[a-z0-9']+")


def is_acknowledgement(text: str) -> bool:
    """True when `text` has words and only acknowledges: "Mm-hmm.", "Oh, okay.", "Yeah, I see,
    thanks."; False for "" and for any request."""
    said = _WORD.findall(text.lower().replace("\u2019", "'"))  # hyphenated sounds split
    return bool(said) and all(
        word in ACKNOWLEDGEMENT_WORDS or _VOCAL_SOUND.fullmatch(word) for word in said
    )


# What a listener says while another talks, as Whisper's context for a second hearing of a
# short sound said over a reply: the echo canceller's double-talk suppression clips its start,
# and without context tiny.en heard "yes, go on" as "Yes, gone." and "uh-huh" as "Uh,". Heard
# with it, requests stayed requests ("Stop.", "Wait.", "Hold on.", "No.", "Cancel that.").
ACKNOWLEDGEMENT_CONTEXT = "Mm-hmm. Okay. Yeah, I see. Uh-huh. Got it. Alright. Go on."
