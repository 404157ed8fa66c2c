"""The pytest plugin gives a user's own tests a real ``nats_server`` and a fresh ``sim``."""

import subprocess

pytest_plugins = ["pytester"]

USER_TESTS = '''
import asyncio, nats

def test_real_request_has_no_responders(nats_server):
    async def main():
        nc = await nats.connect(nats_server.url)
        try:
            await nc.request("nobody.home", b"", timeout=0.5)
        except nats.errors.NoRespondersError:
            return "no responders"
        finally:
            await nc.close()
    assert asyncio.run(main()) == "no responders"

def test_sim_has_a_jetstream_server(sim):
    js = sim.connect(name="app").jetstream()
    acks = []
    def main():
        yield js.add_stream(name="S", subjects=["s.>"])
        acks.append((yield js.publish("s.1", b"x")).seq)
    sim.process(main()); sim.run()
    assert acks == [1]

def test_server_pid(nats_server):
    print("PID", nats_server.pid)
'''


def test_a_users_tests_get_both_fixtures_from_the_plugin(pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=3)
    pid = next(line.split("PID ")[1].split()[0] for line in result.outlines if "PID " in line)
    alive = subprocess.run(["kill", "-0", pid], capture_output=True)
    assert alive.returncode != 0, "the fixture's nats-server is still running after the test"
