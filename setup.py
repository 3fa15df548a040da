"""Package discovery for the layout: the base package in src/vaedge, the three stages in the top-level
train/, export/ and runtime/ folders, installed as vaedge.train, vaedge.export and vaedge.runtime.
Everything is found, not listed, so a subpackage added later is in the wheel."""

from setuptools import find_packages, setup

STAGES = ("train", "export", "runtime")

packages = find_packages("src")
package_dir = {"": "src"}
for stage in STAGES:
    package_dir[f"vaedge.{stage}"] = stage
    packages += [f"vaedge.{name}" for name in find_packages(".", include=[stage, f"{stage}.*"])]

setup(packages=packages, package_dir=package_dir)
