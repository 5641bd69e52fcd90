# Two commands on a fresh machine (each sets up .venv itself; CPU torch when there is no GPU):
#   make demo   the main job: the quick chemistry benchmark with its report (results/quick/)
#   make test   the test extras, then the test suite (the README's test command; CI runs it)
.PHONY: demo test setup clean-venv

demo:
	scripts/demo.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh test,peers

clean-venv:
	rm -rf .venv
