"""calc: `!calc 2**10 / (3 + sqrt(16))`, a safe evaluator, never `eval`.

Only numbers, + - * / // % **, parentheses, a few math functions and
constants pass the AST whitelist. Sizes are bounded before each operation
(integers up to 4096 bits, exponents up to 1000), so no input can make the
bot spend long computing: e.g. `9**9**9` is refused, not attempted.
"""

from __future__ import annotations

import ast
import math
import operator

from bots import command

MAX_LENGTH = 300
MAX_NODES = 100
MAX_BITS = 4096
MAX_EXPONENT = 1000

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin,
    "acos": math.acos, "atan": math.atan, "log": math.log, "log2": math.log2,
    "log10": math.log10, "exp": math.exp, "abs": abs, "round": round, "floor": math.floor,
    "ceil": math.ceil, "min": min, "max": max, "hypot": math.hypot, "degrees": math.degrees,
    "radians": math.radians,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


class CalcError(ValueError):
    pass


def _bits(x: float) -> int:
    return abs(int(x)).bit_length() if isinstance(x, int) else 0


def _check_size(value):
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise CalcError("that number is too big")
    return value


def _binary(op: ast.operator, left, right):
    if isinstance(op, ast.Pow):
        if abs(right) > MAX_EXPONENT:
            raise CalcError(f"exponents are limited to ±{MAX_EXPONENT}")
        if isinstance(left, int) and isinstance(right, int) and right > 0 \
                and _bits(left) * right > MAX_BITS:
            raise CalcError("that number is too big")
    if isinstance(op, ast.Mult) and _bits(left) + _bits(right) > MAX_BITS:
        raise CalcError("that number is too big")
    return _check_size(_BINARY[type(op)](left, right))


def _eval(node: ast.AST):
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _check_size(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _binary(node.op, _eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS and not node.keywords and len(node.args) <= 10):
        args = [_eval(a) for a in node.args]
        if any(_bits(a) > 1024 for a in args):
            raise CalcError("that number is too big for a function")
        return _check_size(_FUNCTIONS[node.func.id](*args))
    raise CalcError(f"not allowed: {type(node).__name__}")


def evaluate(expr: str):
    """The value of a arithmetic expression; CalcError for anything else."""
    expr = expr.replace("^", "**").strip()
    if not expr:
        raise CalcError("nothing to compute")
    if len(expr) > MAX_LENGTH:
        raise CalcError(f"at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError) as e:
        raise CalcError("that is not arithmetic") from e
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError("that expression is too long")
    try:
        return _eval(tree)
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    except (OverflowError, ValueError, TypeError) as e:
        if isinstance(e, CalcError):
            raise
        raise CalcError(f"math error: {e}") from None


def format_value(value) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return f"{value:.12g}"
    text = str(value)
    return text if len(text) <= 120 else f"{text[:60]}...({len(text)} digits)"


@command("calc", "c")
def calc(ctx):
    """calc 2**10 / (3 + sqrt(16)): arithmetic with + - * / // % ** and math functions."""
    try:
        ctx.reply(format_value(evaluate(ctx.args)))
    except CalcError as e:
        ctx.reply(f"error: {e}")
