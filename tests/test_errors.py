"""The error tree: JetStream errors carry the server's numbers and read like its descriptions."""

import pytest

from pmesh_sim import errors
from pmesh_sim.errors import JetStreamError, PmeshError, StreamNotFoundError


def test_every_error_is_a_pmesh_error():
    for name in errors.__all__:
        klass = getattr(errors, name)
        if isinstance(klass, type):
            assert issubclass(klass, PmeshError), name


def test_error_built_from_a_server_response_is_the_specific_class():
    err = JetStreamError.from_dict({"code": 404, "err_code": 10059, "description": "stream not found"})
    assert isinstance(err, StreamNotFoundError)
    assert (err.code, err.err_code) == (404, 10059)


def test_unknown_err_code_from_a_response_keeps_the_servers_fields():
    err = JetStreamError.from_dict({"code": 400, "err_code": 99999, "description": "something new"})
    assert type(err) is JetStreamError
    assert err.to_dict() == {"code": 400, "err_code": 99999, "description": "something new"}


def test_catalogue_fills_the_description_template():
    assert JetStreamError.from_err_code(10070, id="m1").description == "wrong last msg ID: m1"


def test_message_names_the_err_code():
    with pytest.raises(StreamNotFoundError, match="10059"):
        raise StreamNotFoundError()
