"""``alxbridge <command>``: the same commands as ``flask --app wsgi alx <command>``."""

import sys

from flask.cli import FlaskGroup

from . import create_app


def main():
    FlaskGroup(create_app=create_app).main(args=["alx", *sys.argv[1:]], prog_name="alxbridge")
