"""The annotators' gateway at scale: registrations, cold starts, memory of idle workspaces, proxy overhead.

Targets (issue 17): a hundred annotators registered with the default idle policy, ten of them
active, and Label Studio holding <= 4 GB in all (the ninety idle ones stopped, holding nothing);
a stopped workspace is started by its annotator's first request (a "starting" page until it is
up) and is usable through the gateway (form login); the gateway adds little to each request.

    .venv/bin/python benchmarks/gateway.py [--annotators 100] [--active 10] [--requests 300] [--burst] [--keep]

Steps: (1) register N annotators one after another (``add_annotator``: copy of the template,
login, instance stopped), timing each; (2) serve the real app (uvicorn in a thread of this
process, on a free loopback port that is also the annotators' address) and, for K annotators one
after another, time the first GET of ``/a/<pseudonym>/user/login/`` until it answers 200 (polled
every 0.2 s); with ``--burst`` the K are stopped again and requested all at once (the gateway
starts ``instance_starts`` at a time); then each logs in through the gateway's login form;
(3) the resident memory of every Label Studio process of this run (and of this process, which
is the mmcurate server here); (4) R requests of ``/api/current-user/whoami`` and of a static
file to one instance directly and through the gateway, interleaved, on keep-alive clients, with
a pause after each as a browser's requests come (see ``overhead`` on Label Studio's ~40 ms stalls).

Writes benchmarks/results/gateway.json and gateway.md. Uses the cached Label Studio venv and
template (.cache/, or MMCURATE_LABELSTUDIO_VENV) and a throw-away data dir and SQLite database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STYLESHEET = re.compile(r'href="([^"]*/static/[^"]+\.css[^"]*)"')
COLD_START_GOAL_S = 8.0
MEMORY_GOAL_BYTES = 4 * 10**9  # "<= 4 GB" for Label Studio with 10 active and 90 idle annotators
POLL_S = 0.2
STALL_MS = 25.0  # a request this much slower than the fastest of both ways waited on Nagle + delayed ACK


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=100, help="annotators registered (N)")
    parser.add_argument("--active", type=int, default=10, help="annotators made active through the gateway (K <= N)")
    parser.add_argument("--requests", type=int, default=300, help="requests each way for the overhead (R)")
    parser.add_argument("--burst", action="store_true",
                        help="also stop the K active workspaces and request them all at once")
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds one cold start may take")
    parser.add_argument("--gap-ms", type=float, default=50.0,
                        help="pause after each request of the overhead test (a browser's requests are not back "
                             "to back; with none, Label Studio's keep-alive connections stall ~40 ms nearly "
                             "every time)")
    parser.add_argument("--raw", action="store_true", help="also write every request's time of the overhead test")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away data dir (its path is printed)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "gateway.json")
    args = parser.parse_args()
    if not 1 <= args.active <= args.annotators:
        parser.error(f"--active {args.active} must be between 1 and --annotators {args.annotators}")

    import uvicorn

    from annotation_configs.labelstudio import instances as ls
    from annotation_configs.labelstudio.install import LABEL_STUDIO_VERSION, ensure_installed
    from backend.api.app import create_app
    from backend.db.session import engine_for, session_factory
    from backend.services import annotation as service
    from backend.services.annotation import lifecycle
    from backend.services.setup import ensure_initialised, initialise
    from backend.settings import Settings

    venv = Path(os.environ.get("MMCURATE_LABELSTUDIO_VENV") or REPO / ".cache" / "labelstudio-venv")
    install = ensure_installed(venv)
    work = Path(tempfile.mkdtemp(prefix="mmcurate-bench-gateway-"))
    data_dir = work / "var"
    port = ls.free_port()  # bound by the server before any instance picks a port, so none can take it
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'mmcurate.db'}", public_url=base,
                        annotator_url=base, webhook_secret="bench-gateway-secret", labelstudio_venv=install.venv)
    initialise(settings)  # what `mmcurate init` does: data dir layout, migrations, webhook secret
    ensure_initialised(settings)
    home = service.LabelStudioHome.from_settings(settings)  # the layout the server's gateway finds too
    template = ls.ensure_template(install, home.template_dir, home.media_root)  # the cached one: reused
    factory = session_factory(settings.sqlalchemy_url)

    results: dict[str, object] = {
        "benchmark": "benchmarks/gateway.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(LABEL_STUDIO_VERSION),
        "parameters": {"annotators": args.annotators, "active": args.active, "requests": args.requests,
                       "burst": args.burst, "gap_ms": args.gap_ms,
                       "instance_idle_minutes": settings.instance_idle_minutes,
                       "instance_starts": settings.instance_starts,
                       "max_running_instances_setting": settings.max_running_instances,
                       "template": str(template.data_dir), "poll_s": POLL_S},
    }
    print(f"data dir {data_dir}; gateway {base}", flush=True)
    app = create_app(settings)
    spaces = app.state.workspaces  # the gateway's view of the workspaces (starts, idle stops)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="bench-gateway-server", daemon=True)
    failed = False
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the app did not start on {base}")
            time.sleep(0.05)
        results["parameters"]["max_running_instances_effective"] = spaces.max_running

        # 1. registrations
        logins = []
        times = []
        started_all = time.perf_counter()
        for n in range(1, args.annotators + 1):
            started = time.perf_counter()
            with factory() as session:
                logins.append(service.add_annotator(session, settings, f"bench{n:03d}@example.org", ["ta"], home=home))
                session.commit()
            times.append(time.perf_counter() - started)
            if n % 10 == 0 or n == args.annotators:
                print(f"registered {n}/{args.annotators} (last {times[-1]:.1f} s)", flush=True)
        results["registration"] = {"count": len(logins), "total_s": round(time.perf_counter() - started_all, 1),
                                   "mode": "sequential, one session and commit each", **summary_s(times),
                                   "per_registration_s": [round(t, 2) for t in times]}
        records = home.state().load()
        results["registration"]["running_after"] = sum(1 for r in records.values() if ls.pid_alive(r.pid))
        results["registration"]["all_addresses_on_gateway"] = all(
            login.url == f"{base}/a/{login.pseudonym}/" for login in logins)
        results["memory_all_idle"] = label_studio_memory(home.instances_dir)
        print("registration", {k: v for k, v in results["registration"].items() if k != "per_registration_s"},
              flush=True)

        # 2. cold starts through the gateway, one after another (and all at once with --burst), then logins
        active = logins[:args.active]
        waits = [cold_start(base, login.pseudonym, args.start_timeout) for login in active]
        results["cold_start_sequential"] = {**summary_s([w["wait_s"] for w in waits if w["ok"]]),
                                            "all_reached_200": all(w["ok"] for w in waits), "each": waits}
        print("cold start, one after another", [w["wait_s"] for w in waits], flush=True)
        if args.burst:
            for login in active:
                lifecycle.stop_instance(home, home.state().load()[login.pseudonym])
                spaces.mark_down(login.pseudonym)
            with ThreadPoolExecutor(len(active)) as pool:
                burst = list(pool.map(lambda login: cold_start(base, login.pseudonym, args.start_timeout), active))
            results["cold_start_burst"] = {**summary_s([w["wait_s"] for w in burst if w["ok"]]),
                                           "all_reached_200": all(w["ok"] for w in burst),
                                           "concurrent_starts": settings.instance_starts, "each": burst}
            print("cold start, all at once", [w["wait_s"] for w in burst], flush=True)
        browsers = {}
        logged_in = []
        for login in active:
            client, outcome = browser_login(base, login)
            browsers[login.pseudonym] = client
            logged_in.append(outcome)
        results["logins"] = {"all_ok": all(o["ok"] for o in logged_in), "each": logged_in}
        print("logins", [(o["pseudonym"], o["status"], o["ok"]) for o in logged_in], flush=True)

        # 3. memory with K active and N - K stopped
        running = [r.name for r in home.state().load().values() if ls.pid_alive(r.pid)]
        results["memory_active"] = {**label_studio_memory(home.instances_dir), "instances_running": len(running),
                                    "mmcurate_process": own_memory()}
        print("memory", results["memory_active"], flush=True)

        # 4. proxy overhead on one running instance
        first = active[0].pseudonym
        results["overhead"] = overhead(base, home.state().load()[first], browsers[first], args.requests,
                                       args.gap_ms / 1000, args.raw)
        print("overhead", {k: ({m: n for m, n in v.items() if m != "raw_ms"} if isinstance(v, dict) else v)
                           for k, v in results["overhead"].items()}, flush=True)
        for client in browsers.values():
            client.close()
        results["goals"] = goals(results, args)
    except BaseException as exc:
        failed = True
        results["error"] = "".join(traceback.format_exception(exc))[-4000:]
        traceback.print_exc()
    finally:
        ls.stop_all(home.state().load().values())
        results["label_studio_processes_left"] = len(label_studio_processes(home.instances_dir))
        server.should_exit = True
        thread.join(timeout=30)
        engine_for(settings.sqlalchemy_url).dispose()
        results["machine"]["loadavg_end"] = os.getloadavg()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 1 if failed or not all(g["met"] for g in results.get("goals", {}).values() if g["met"] is not None) else 0


# -- measurements ----------------------------------------------------------------------------------------------------

def cold_start(base: str, name: str, timeout_s: float) -> dict[str, object]:
    """Seconds from the first GET of the login page through the gateway until it answers 200 (polled every 0.2 s)."""
    import httpx

    url = f"{base}/a/{name}/user/login/"
    statuses: dict[str, int] = {}
    with httpx.Client(timeout=60, headers={"Accept": "text/html"}) as client:
        started = time.perf_counter()
        first = None
        while True:
            try:
                status = client.get(url).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            first = first if first is not None else status
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            waited = time.perf_counter() - started
            if status == 200 or waited > timeout_s:
                break
            time.sleep(POLL_S)
    return {"pseudonym": name, "wait_s": round(waited, 2), "ok": status == 200, "first_status": first,
            "statuses": statuses}


def browser_login(base: str, login) -> tuple[object, dict[str, object]]:
    """A client logged in through the gateway's form, as a browser would (cookies kept by path); and the outcome."""
    import httpx

    name = login.pseudonym
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get(f"/a/{name}/user/login/")
    found = CSRF.search(page.text)
    if page.status_code != 200 or found is None:
        return client, {"pseudonym": name, "ok": False, "status": page.status_code, "detail": "no login form"}
    started = time.perf_counter()
    done = client.post(f"/a/{name}/user/login/",
                       data={"csrfmiddlewaretoken": found.group(1), "email": login.email, "password": login.password},
                       headers={"Referer": f"{base}/a/{name}/user/login/", "Origin": base})
    post_s = time.perf_counter() - started
    location = done.headers.get("location", "")
    me = client.get(f"/a/{name}/api/current-user/whoami")
    ok = (done.status_code == 302 and location.startswith(f"/a/{name}/") and me.status_code == 200
          and me.json().get("email") == login.email)
    return client, {"pseudonym": name, "ok": ok, "status": done.status_code, "location": location,
                    "login_post_s": round(post_s, 3), "whoami_status": me.status_code,
                    "cookie_paths": sorted({c.path for c in client.cookies.jar})}


def overhead(base: str, record, client, requests: int, gap_s: float, raw: bool = False) -> dict[str, object]:
    """Whoami (token auth) and a static file, each ``requests`` times directly and through the gateway, interleaved.

    Label Studio serves with Django's ``runserver`` (headers and body in two writes, no
    TCP_NODELAY): on a keep-alive connection whose client delays its ACK, the body waits ~40 ms
    (Nagle + delayed ACK; measured: sequential whoami on one keep-alive connection ~52 ms, with
    TCP_QUICKACK or a new connection each ~8 ms). It strikes the benchmark's direct connection and
    the gateway's own pooled upstream connection alike, nearly always when requests come back to
    back, rarely with a pause between them (``gap_s``, as a browser's requests come), and it
    would swamp a 1-5 ms difference. So besides the plain medians and p95 of all requests, a
    request slower than the fastest of both ways by ``STALL_MS`` is counted as stalled, and the
    gateway's own cost is the difference of the medians of the unstalled requests (None when one
    way was stalled almost throughout: then the stall, not the gateway, is the difference).
    """
    import httpx

    name = record.name
    token = client.get(f"/a/{name}/api/current-user/token").json()["token"]
    page = httpx.get(f"{base}/a/{name}/user/login/", timeout=60).text  # logged out: the login page itself
    found = STYLESHEET.search(page)
    headers = {"Authorization": f"Token {token}"}
    prefix = f"{base}/a/{name}"
    pairs = {"whoami": (f"{record.url}/api/current-user/whoami", f"{prefix}/api/current-user/whoami")}
    if found:
        via = found.group(1)
        via = via if via.startswith("http") else base + via
        pairs["static"] = (record.url + via[len(prefix):], via)
    out: dict[str, object] = {
        "instance": name, "requests_each_way": requests, "stall_threshold_ms": STALL_MS,
        "gap_after_each_request_ms": round(gap_s * 1000, 1),
        "client": "one keep-alive httpx.Client per way, requests alternating direct, gateway; the server runs in a "
                  "thread of the same process"}
    with httpx.Client(timeout=60, headers=headers) as direct, httpx.Client(timeout=60, headers=headers) as gateway:
        for what, (direct_url, gateway_url) in pairs.items():
            sizes = set()
            for _ in range(20):  # warm-up: connections, caches
                direct.get(direct_url)
                gateway.get(gateway_url)
            times: dict[str, list[float]] = {"direct": [], "gateway": []}
            statuses: dict[str, set[int]] = {"direct": set(), "gateway": set()}
            for _ in range(requests):
                for way, session, url in (("direct", direct, direct_url), ("gateway", gateway, gateway_url)):
                    started = time.perf_counter()
                    response = session.get(url)
                    times[way].append(time.perf_counter() - started)
                    statuses[way].add(response.status_code)
                    sizes.add(len(response.content))
                    time.sleep(gap_s)
            fastest = min(min(values) for values in times.values())
            clear = {way: [t for t in values if t < fastest + STALL_MS / 1000] for way, values in times.items()}
            enough = all(len(v) >= max(1, requests // 10) for v in clear.values())
            out[what] = {
                "direct_url": direct_url, "gateway_url": gateway_url, "bytes": sorted(sizes),
                "statuses": {k: sorted(v) for k, v in statuses.items()},
                "direct_ms": summary_ms(times["direct"]), "gateway_ms": summary_ms(times["gateway"]),
                "median_difference_ms": round(1000 * (statistics.median(times["gateway"])
                                                      - statistics.median(times["direct"])), 2),
                "stalled": {way: len(times[way]) - len(clear[way]) for way in times},
                "unstalled_median_ms": {way: round(1000 * statistics.median(v), 2) if v else None
                                        for way, v in clear.items()},
                "gateway_cost_ms": round(1000 * (statistics.median(clear["gateway"])
                                                 - statistics.median(clear["direct"])), 2) if enough else None,
            }
            if raw:
                out[what]["raw_ms"] = {way: [round(1000 * t, 2) for t in v] for way, v in times.items()}
    return out


# -- memory -------------------------------------------------------------------------------------------------------

def _processes() -> dict[int, tuple[int, list[str]]]:
    """Every process: pid -> (parent pid, argv)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out[int(entry.name)] = (parent, argv)
    return out


def label_studio_processes(instances_dir: Path) -> list[int]:
    """Label Studio processes of this run (a ``label-studio`` command line naming a data dir under
    ``instances_dir``) and all their descendants; other runs' instances on the machine are left out."""
    table = _processes()
    roots = {pid for pid, (_, argv) in table.items()
             if any("label-studio" in a for a in argv) and any(a.startswith(str(instances_dir)) for a in argv)}
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (parent, _) in table.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def _status_kb(pid: int | str, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def label_studio_memory(instances_dir: Path) -> dict[str, object]:
    """Sum of VmRSS (and of PSS, which counts shared pages once) over this run's Label Studio processes."""
    pids = label_studio_processes(instances_dir)
    rss = sum(_status_kb(pid, "VmRSS") for pid in pids) * 1024
    pss = [_pss_kb(pid) for pid in pids]
    machine_wide = [pid for pid, (_, argv) in _processes().items() if any("label-studio" in a for a in argv)]
    return {"processes": len(pids), "rss_bytes": rss, "rss_gb": round(rss / 1e9, 3),
            "pss_gb": round(sum(p for p in pss if p) * 1024 / 1e9, 3) if pss and None not in pss else None,
            "per_process_rss_mb": sorted(round(_status_kb(p, "VmRSS") / 1024) for p in pids),
            "label_studio_processes_on_machine": len(machine_wide)}


def own_memory() -> dict[str, object]:
    """This process: the mmcurate server (uvicorn thread, gateway, start pool) and the benchmark's own clients."""
    return {"rss_mb": round(_status_kb("self", "VmRSS") / 1024),
            "peak_rss_mb": round(_status_kb("self", "VmHWM") / 1024),
            "note": "the server runs in a thread of the benchmark process: includes the load generator"}


def machine(label_studio: str) -> dict[str, object]:
    mem_kb = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, value = line.split(":", 1)
        if key in ("MemTotal", "MemAvailable"):
            mem_kb[key] = int(value.split()[0])
    return {"cpus": os.cpu_count(), "memory_total_gb": round(mem_kb["MemTotal"] / 1e6, 1),
            "memory_available_gb_start": round(mem_kb["MemAvailable"] / 1e6, 1), "loadavg_start": os.getloadavg(),
            "python": platform.python_version(), "platform": platform.platform(), "label_studio": label_studio}


# -- summaries ---------------------------------------------------------------------------------------------------

def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def summary_s(values: list[float]) -> dict[str, object]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "median_s": round(statistics.median(values), 2), "p95_s": round(_p95(values), 2),
            "min_s": round(min(values), 2), "max_s": round(max(values), 2), "mean_s": round(statistics.mean(values), 2)}


def summary_ms(values: list[float]) -> dict[str, float]:
    quartiles = statistics.quantiles(values, n=4)
    return {"median": round(1000 * statistics.median(values), 2), "p95": round(1000 * _p95(values), 2),
            "mean": round(1000 * statistics.mean(values), 2), "min": round(1000 * min(values), 2),
            "p25": round(1000 * quartiles[0], 2), "p75": round(1000 * quartiles[2], 2)}


def goals(results: dict, args) -> dict[str, dict[str, object]]:
    """Each target with the measured value and whether it was met (None: reported, no target)."""
    memory = results["memory_active"]
    sequential = results["cold_start_sequential"]
    out = {
        "registrations": {"target": f"{args.annotators} annotators registered, every instance stopped after",
                          "value": f"{results['registration']['count']} registered, "
                                   f"{results['registration']['running_after']} running after",
                          "met": results["registration"]["count"] == args.annotators
                          and results["registration"]["running_after"] == 0},
        "label_studio_memory": {"target": f"<= 4 GB with {args.active} active, {args.annotators - args.active} idle"
                                          + ("" if (args.annotators, args.active) == (100, 10)
                                             else " (the target is for 100 with 10 active)"),
                                "value": f"{memory['rss_gb']} GB RSS ({memory['pss_gb']} GB PSS), "
                                         f"{memory['instances_running']} running",
                                "met": memory["rss_bytes"] <= MEMORY_GOAL_BYTES},
        "idle_hold_nothing": {"target": "registered, unused annotators hold no process",
                              "value": f"{results['memory_all_idle']['processes']} processes before any was used",
                              "met": results["memory_all_idle"]["processes"] == 0},
        "cold_start": {"target": "a stopped workspace starts on its first request (starting page, then 200) "
                                 f"within {COLD_START_GOAL_S:.0f} s",
                       "value": f"median {sequential.get('median_s')} s, max {sequential.get('max_s')} s",
                       "met": sequential["all_reached_200"]
                       and all(w["first_status"] == 503 for w in sequential["each"])
                       and (sequential.get("max_s") or 1e9) <= COLD_START_GOAL_S},
        "usable": {"target": "every active annotator logs in through the gateway (302, then whoami 200)",
                   "value": f"{sum(o['ok'] for o in results['logins']['each'])}/{args.active}",
                   "met": results["logins"]["all_ok"]},
        "overhead": {"target": "reported (median added per proxied request)",
                     "value": "; ".join(
                         f"{what}: +{o['median_difference_ms']} ms median of all, "
                         + (f"+{o['gateway_cost_ms']} ms without stalls" if o["gateway_cost_ms"] is not None
                            else "stalled throughout on one way")
                         + f" (stalled {o['stalled']['direct']} direct / {o['stalled']['gateway']} gateway "
                           f"of {results['overhead']['requests_each_way']})"
                         for what, o in results["overhead"].items() if what in ("whoami", "static")),
                     "met": None},
    }
    if "cold_start_burst" in results:
        burst = results["cold_start_burst"]
        out["cold_start_burst"] = {"target": f"{args.active} requested at once all start "
                                             f"({results['parameters']['instance_starts']} at a time)",
                                   "value": f"median {burst.get('median_s')} s, max {burst.get('max_s')} s",
                                   "met": burst["all_reached_200"]}
    return out


def markdown(results: dict) -> str:
    p = results["parameters"]
    m = results["machine"]
    lines = ["# Annotators' gateway at scale (benchmarks/gateway.py)", "",
             f"{results['date']}; {m['cpus']} cores, {m['memory_total_gb']} GB, load avg "
             f"{', '.join(f'{x:.1f}' for x in m['loadavg_start'])} at the start; Label Studio {m['label_studio']}; "
             f"N={p['annotators']} annotators, K={p['active']} active, R={p['requests']} requests, "
             f"idle stop after {p['instance_idle_minutes']:g} min, {p['instance_starts']} starts at a time. "
             "Raw numbers: `gateway.json`.", ""]
    if "error" in results:
        lines += ["**The run failed:**", "", "```", results["error"].strip()[-1500:], "```", ""]
    if "goals" in results:
        lines += ["| goal | target | measured | met |", "|---|---|---|---|"]
        for name, goal in results["goals"].items():
            met = "-" if goal["met"] is None else ("yes" if goal["met"] else "**no**")
            lines.append(f"| {name} | {goal['target']} | {goal['value']} | {met} |")
        lines.append("")
    rows = []
    if "registration" in results:
        r = results["registration"]
        rows.append(("registration (each)", f"median {r['median_s']} s, p95 {r['p95_s']} s, total {r['total_s']} s"))
    for key, label in (("cold_start_sequential", "cold start, one after another"),
                       ("cold_start_burst", "cold start, all at once")):
        if key in results:
            c = results[key]
            rows.append((label, f"median {c.get('median_s')} s, p95 {c.get('p95_s')} s, max {c.get('max_s')} s"))
    if "memory_active" in results:
        mem = results["memory_active"]
        rows.append(("Label Studio memory", f"{mem['rss_gb']} GB RSS / {mem['pss_gb']} GB PSS, {mem['processes']} "
                                            f"processes, {mem['instances_running']} instances"))
        rows.append(("mmcurate process (server + benchmark)", f"{mem['mmcurate_process']['rss_mb']} MB RSS"))
    if "overhead" in results:
        for what in ("whoami", "static"):
            if what in results["overhead"]:
                o = results["overhead"][what]
                rows.append((f"{what}: direct / gateway (ms)",
                             f"median {o['direct_ms']['median']} / {o['gateway_ms']['median']}, p95 "
                             f"{o['direct_ms']['p95']} / {o['gateway_ms']['p95']}; stalled ~40 ms: "
                             f"{o['stalled']['direct']} / {o['stalled']['gateway']} of "
                             f"{results['overhead']['requests_each_way']}; unstalled median "
                             f"{o['unstalled_median_ms']['direct']} / {o['unstalled_median_ms']['gateway']}"))
    if rows:
        lines += ["| what | measured |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
