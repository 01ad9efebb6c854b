"""Starts and supervises the processes of the virtual site, with sim/launcher.py's machinery
(each child in its own session, dying with the launcher, one log file each, children.json).

The order is a site's: the brokers (each pack's and the site's, bridged), then the plant
(the DC bus with every box and the inverter: `bms sim site-bus`) and every pack's slaves,
then each pack's master once its slaves and its box have been heard, as `bms pack` does
for one, and the site controller once every pack is up. At the stop the site controller
goes first (its stop asks every pack to leave the bus), then the masters (each opens its
contactors), then the plant and the slaves, and the brokers last, so that the requests to
leave still reach the packs.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bms.service import write_json_atomically
from sim.launcher import PLANT_WAIT_S, Child, Launcher
from sim.site_brokers import SitePlan
from sim.site_configs import SiteConfigs

SITE_ROLE = "site"
PLANT_ROLE = "site-bus"
MASTER = "master"


def master_role(pack: str) -> str:
    return f"{pack} {MASTER}"


def broker_role(pack: str | None) -> str:
    return "site broker" if pack is None else f"{pack} broker"


@dataclass
class SiteLauncher(Launcher):
    configs: SiteConfigs | None = None
    brokers: SitePlan | None = None
    broker_roles: list[str] = field(default_factory=list)

    def plan(self) -> list[Child]:
        if self.configs is None or self.brokers is None:
            raise ValueError("a site launcher needs the site's configurations and brokers")
        configs, brokers, run_dir = self.configs, self.brokers, self.run_dir
        base = [sys.executable, "-m", "bms"]

        def child(role: str, config: Path, *args: str, stats: bool = True) -> Child:
            slug = role.replace(" ", "-")
            stats_path = run_dir / f"{slug}.stats.json" if stats else None
            argv = [*base, *args, "--config", str(config)]
            if stats_path is not None:
                argv += ["--stats-file", str(stats_path)]
            return Child(role, argv, run_dir / f"{slug}.log", stats_path)

        children = [Child(broker_role(None), brokers.site.argv, run_dir / "site-broker.log")]
        children += [Child(broker_role(pack), plan.argv, run_dir / f"{pack}-broker.log")
                     for pack, plan in brokers.packs.items()]
        self.broker_roles = [c.role for c in children]
        children.append(child(PLANT_ROLE, configs.site, "sim", "site-bus",
                              *(a for path in configs.packs.values()
                                for a in ("--pack", str(path)))))
        for pack, path in configs.packs.items():
            settings = configs.pack_settings[pack]
            children += [child(f"{pack} slave {m}", path, "slave", "--module", str(m))
                         for m in range(settings.pack.modules)]
        children.append(child(SITE_ROLE, configs.site, "site"))
        children += [child(master_role(pack), path, "master")
                     for pack, path in configs.packs.items()]
        self.children = children
        return children

    def masters(self) -> list[Child]:
        return [c for c in self.children if c.role.endswith(f" {MASTER}")]

    async def start(self, unheard: Callable[[], list[str]] = list,
                    wait_s: float | None = None, stop: asyncio.Event | None = None,
                    brokers_up: Callable[[], Awaitable[None]] | None = None,
                    packs_unready: Callable[[], list[str]] = list) -> list[str]:
        """The brokers (until ``brokers_up`` completes); the plant and the slaves; the
        masters once ``unheard()`` names nothing; the site controller once
        ``packs_unready()`` names nothing (each wait also ends when a child exits or
        ``wait_s`` has passed); nothing more once ``stop`` is set. Returns what was unheard
        or unready when a wait ended."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        children = self.plan()
        masters, site = self.masters(), [c for c in children if c.role == SITE_ROLE]
        if wait_s is None:
            wait_s = PLANT_WAIT_S * self.settings.pack.time_scale
        for child in children:
            if child.role in self.broker_roles:
                await self._spawn(child)
        if brokers_up is not None:
            await brokers_up()
        missing: list[str] = []
        # the masters when their plant is heard, as `bms pack` starts its master; the site
        # when every pack is up, so that its first choice (which pack precharges the dead
        # bus) is made among all of them, not among those whose master started first
        for group, waited in (([c for c in children if c.role not in self.broker_roles
                                and c not in (*masters, *site)], unheard),
                              (masters, packs_unready), (site, list)):
            if stop is not None and stop.is_set():
                break
            for child in group:
                await self._spawn(child)
            missing += await self._wait_heard(waited, wait_s, stop)
        manifest = {c.role: {"pid": c.pid, "log": str(c.log_path)} for c in self.children}
        write_json_atomically(self.run_dir / "children.json", manifest)
        return missing

    async def stop(self) -> None:
        """The site controller, the masters, the plant and the slaves, the brokers."""
        site = [c for c in self.children if c.role == SITE_ROLE]
        masters = self.masters()
        brokers = [c for c in self.children if c.role in self.broker_roles]
        rest = [c for c in self.children if c not in (*site, *masters, *brokers)]
        for group in (site, masters, rest, brokers):
            await asyncio.gather(*(self._stop_child(c) for c in group))
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
