"""The import graph matches docs/architecture.md: imports run one way, and nothing imports in a circle.

Reads the source with `ast` (nothing is imported, so this runs in well under a
second). Every `import` counts, also those inside functions: an import put in
a function to dodge a cycle is still a cycle in the design.
"""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Where the installed package `mobile_ssl.X` lives in the repository (setup.py's package_dir).
SOURCES = {"mobile_ssl": "mobile_ssl", "mobile_ssl.export": "export",
           "mobile_ssl_tfds": "tfds_builders"}

# The layers, bottom first; a module may import its own layer and the layers below.
# Packages in the same layer (benchmark, federated) must not import each other.
LAYERS = (
    ("core", ("mobile_ssl.core",)),
    ("TFDS builders", ("mobile_ssl_tfds",)),
    ("data", ("mobile_ssl.data",)),
    ("training", ("mobile_ssl.training",)),
    ("evaluation", ("mobile_ssl.evaluation",)),
    ("export", ("mobile_ssl.export",)),
    ("benchmark, federated", ("mobile_ssl.benchmark", "mobile_ssl.federated")),
    ("commands", ("mobile_ssl.commands",)),
)


def modules() -> dict:
  """{dotted module name: source path} of everything setup.py installs."""
  found = {}
  for package, folder in SOURCES.items():
    root = os.path.join(REPO, folder)
    for dirpath, dirnames, filenames in os.walk(root):
      dirnames[:] = [d for d in dirnames if d not in ("dummy_data", "__pycache__")]
      rel = os.path.relpath(dirpath, root)
      prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
      if prefix != package and prefix.split(".")[1] in ("export", "tfds_builders") and (
          folder == "mobile_ssl"):
        continue
      for name in filenames:
        if name.endswith(".py"):
          dotted = prefix if name == "__init__.py" else f"{prefix}.{name[:-3]}"
          found[dotted] = os.path.join(dirpath, name)
  return found


MODULES = modules()


def imports(path: str, dotted: str) -> set:
  """The mobile_ssl modules a file imports (a `from P import m` counts as P.m when m is a module)."""
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
  package = dotted if path.endswith("__init__.py") else dotted.rsplit(".", 1)[0]
  out = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                        + ([base] if base else []))
      names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    else:
      continue
    for name in names:
      top = name.split(".")[0]
      if top in ("export", "tfds_builders"):
        out.add(name)  # the repository folder under its folder name: never right
      elif top in ("mobile_ssl", "mobile_ssl_tfds"):
        while name not in MODULES and "." in name:
          name = name.rsplit(".", 1)[0]
        out.add(name)
  out.discard(dotted)
  return out


GRAPH = {name: imports(path, name) for name, path in MODULES.items()}


def layer(name: str):
  for index, (_, packages) in enumerate(LAYERS):
    for package in packages:
      if name == package or name.startswith(package + "."):
        return index, package
  return None


def test_the_checker_reads_every_package():
  # A wrong REPO would find no module at all, and every check below would pass on nothing.
  for name in ("mobile_ssl.core.params", "mobile_ssl.export.convert", "mobile_ssl_tfds.file_decoding",
               "mobile_ssl.commands.train", "mobile_ssl.federated.flower_app"):
    assert name in MODULES, name
  assert len(MODULES) > 60 and sum(len(deps) for deps in GRAPH.values()) > 100


def test_every_module_has_a_layer():
  homeless = [m for m in MODULES if m not in ("mobile_ssl", "mobile_ssl_tfds") and layer(m) is None]
  assert not homeless, f"modules outside every layer of docs/architecture.md: {homeless}"


def test_nothing_imports_the_repository_folders_by_their_own_names():
  wrong = {m: sorted(i for i in deps if i.split(".")[0] in ("export", "tfds_builders"))
           for m, deps in GRAPH.items()}
  assert not {m: d for m, d in wrong.items() if d}, "import them as mobile_ssl.export, mobile_ssl_tfds"


def test_imports_run_one_way():
  upward = []
  for module, deps in GRAPH.items():
    mine = layer(module)
    if mine is None:
      continue
    for dep in deps:
      theirs = layer(dep)
      if theirs is None:
        continue
      if theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
        upward.append(f"{module} ({LAYERS[mine[0]][0]}) imports {dep} ({LAYERS[theirs[0]][0]})")
  assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def cycles(graph: dict) -> list:
  """Strongly connected components of more than one module (Tarjan)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for dep in graph.get(node, ()):
      if dep not in graph:
        continue
      if dep not in index:
        visit(dep)
        low[node] = min(low[node], low[dep])
      elif dep in on_stack:
        low[node] = min(low[node], index[dep])
    if low[node] == index[node]:
      component = []
      while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for node in graph:
    if node not in index:
      visit(node)
  return found


def test_no_import_cycles():
  assert not cycles(GRAPH), f"modules that import each other in a circle: {cycles(GRAPH)}"


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
  assert cycles(graph) == expected


def test_the_checker_sees_an_upward_import(tmp_path):
  source = tmp_path / "m.py"
  source.write_text("def f():\n  from mobile_ssl.commands import train\n  import export.convert\n")
  found = imports(str(source), "mobile_ssl.core.m")
  assert "mobile_ssl.commands.train" in found and "export.convert" in found
  assert layer("mobile_ssl.commands.train")[0] > layer("mobile_ssl.core.params")[0]
