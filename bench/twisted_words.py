"""Twisted Words' IRC server, as `twistd words` builds it, for the benchmark's third column.

    python -m bench.twisted_words --port 6667 [--hostname irc.bench.local]

What twisted/words/tap.py's makeService does (an InMemoryWordsRealm, a Portal and
service.IRCFactory on a TCP port), with two changes the scenarios need: groups are
created on request (the scenarios JOIN channels nobody created), and the checker
takes any nick with any password (Twisted's IRC front end logs in with PASS and
NICK; the load generator sends PASS for this server). `pip install twisted`: not a
words dependency.
"""

from __future__ import annotations

import argparse
import signal

from twisted.cred import credentials, portal
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet import defer, reactor
from twisted.words import service
from zope.interface import implementer


@implementer(ICredentialsChecker)
class AnyPassword:
    """Every nick logs in, whatever its password: the benchmark's clients are all welcome."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def requestAvatarId(self, creds):  # Twisted's interface names it
        return defer.succeed(creds.username)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.twisted_words")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--hostname", default="irc.bench.local")
    args = parser.parse_args(argv)
    realm = service.InMemoryWordsRealm(args.hostname)
    realm.createGroupOnRequest = True
    factory = service.IRCFactory(realm, portal.Portal(realm, [AnyPassword()]))
    reactor.listenTCP(args.port, factory, interface=args.host)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.run()


if __name__ == "__main__":
    main()
