"""How the realm tells minds an event (WordsRealm._tell): per class, in order, failures isolated."""

from __future__ import annotations

from words.realm import InMemoryWordsRealm

told: list[tuple[str, str]] = []  # (mind name, how it was told), in the order it happened


class Slotted:
    """A mind whose instances cannot override methods: its handler is resolved per class."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def receive(self, event) -> None:
        if self.name == "broken":
            raise RuntimeError("front end bug")
        told.append((self.name, "receive"))


class Batched(Slotted):
    """A mind class that takes a whole run of its minds in one call."""

    __slots__ = ()

    @staticmethod
    def receive_all(minds, event) -> None:
        names = [m.name for m in minds]
        told.extend((name, f"receive_all{names}") for name in names)


class Plain:
    """A mind with an instance __dict__: asked with getattr, so an instance may override."""

    def __init__(self, name: str) -> None:
        self.name = name

    def receive(self, event) -> None:
        told.append((self.name, "receive"))


class Deaf:
    """A slotted mind without the method: told nothing."""

    __slots__ = ()


def make(minds):
    """A realm with users u0..un-1 (each with its mind, or none) in #c, and a speaker outside it."""
    told.clear()
    realm = InMemoryWordsRealm("example.com", create_group_on_request=True)
    group = realm.get_group("#c")
    for i, mind in enumerate(minds):
        user = realm.sign_on(f"u{i}", mind, username="u", host="h") if mind is not None \
            else realm.create_user(f"u{i}")
        realm.join(user, group)
    speaker = realm.sign_on("speaker", Plain("speaker"), username="u", host="h")
    told.clear()
    return realm, group, speaker


def test_minds_are_told_in_member_order_across_classes():
    realm, group, speaker = make([Slotted("a"), Plain("b"), Batched("c"), Batched("d"), Slotted("e")])
    realm.say(speaker, group, "hi")
    assert told == [
        ("a", "receive"), ("b", "receive"),
        ("c", "receive_all['c', 'd']"), ("d", "receive_all['c', 'd']"),
        ("e", "receive"),
    ]


def test_an_instance_override_is_honoured_for_a_class_with_a_dict():
    plain = Plain("b")
    plain.receive = lambda event: told.append(("b", "override"))
    realm, group, speaker = make([Plain("a"), plain])
    realm.say(speaker, group, "hi")
    assert told == [("a", "receive"), ("b", "override")]


def test_a_failing_mind_does_not_stop_the_others_and_is_logged(caplog):
    realm, group, speaker = make([Slotted("a"), Slotted("broken"), Slotted("c")])
    realm.say(speaker, group, "hi")
    assert told == [("a", "receive"), ("c", "receive")]
    assert "front end bug" in caplog.text


def test_minds_without_the_method_and_members_without_a_mind_are_skipped():
    realm, group, speaker = make([Deaf(), None, Slotted("c")])
    realm.say(speaker, group, "hi")
    assert told == [("c", "receive")]


def test_the_sender_is_not_told_its_own_message():
    realm, group, _speaker = make([Slotted("a"), Slotted("b")])
    sender = realm.find_user("u0")
    realm.say(sender, group, "hi")
    assert told == [("b", "receive")]


def test_a_private_message_goes_to_its_target_only():
    realm, _group, speaker = make([Slotted("a"), Batched("b")])
    realm.say(speaker, realm.find_user("u1"), "psst")
    assert told == [("b", "receive_all['b']")]
