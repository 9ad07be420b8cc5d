"""Which requirements a local worker still needs installed, given the host environment."""

import importlib.metadata

from stepkit.runtime.deps import requirement_lines, satisfied_by_host, to_install

PYDANTIC = importlib.metadata.version("pydantic")


def test_comments_and_blank_lines_are_dropped() -> None:
    text = "# models\n\nnumpy>=1.26  # for arrays\n  scikit-learn\n"
    assert requirement_lines(text) == ["numpy>=1.26", "scikit-learn"]


def test_a_requirement_the_host_meets_is_not_installed_again() -> None:
    assert satisfied_by_host(f"pydantic=={PYDANTIC}")
    assert satisfied_by_host("PyYAML>=6")
    assert not satisfied_by_host("pydantic<1")  # another version: the function gets its own
    assert not satisfied_by_host("a-package-that-is-not-installed==1.0")


def test_urls_paths_and_options_go_to_pip() -> None:
    assert not satisfied_by_host("./wheels/tiny-1.0-py3-none-any.whl")
    assert not satisfied_by_host("tiny @ https://example.invalid/tiny-1.0.tar.gz")
    assert not satisfied_by_host("--index-url https://example.invalid/simple")


def test_a_marker_for_another_platform_needs_nothing() -> None:
    assert satisfied_by_host('pywin32>=300 ; sys_platform == "win32"')


def test_to_install_is_empty_when_only_options_remain() -> None:
    assert to_install("pydantic>=2\n--extra-index-url https://example.invalid/simple\n") == []
    assert to_install("pydantic<1\n--extra-index-url https://example.invalid/simple\n") == [
        "pydantic<1",
        "--extra-index-url https://example.invalid/simple",
    ]
    assert to_install("-r base.txt\n") == ["-r base.txt"]
