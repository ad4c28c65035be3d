"""Commands about users: AWAY ISON USERHOST WHOWAS KICK INVITE."""
