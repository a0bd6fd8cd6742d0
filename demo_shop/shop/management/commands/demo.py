"""``manage.py demo`` (what ``make demo`` runs): a working shop with recommendations in one command.

It migrates, loads the shipped purchase history once, creates a staff login, trains the first
model when there is none, and runs a real Celery worker and the web server until Ctrl-C.
Every step is safe to repeat: a second ``make demo`` skips what is already done.

Training the first model takes a few minutes, so while serving it runs beside the shop (the
bundles use the co-purchase fallbacks until the model is live); with ``--no-serve`` it runs to
the end before the command returns.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cart_recommender.models import ModelVersion
from demo_shop.shop.models import Product
from demo_shop.shop.processes import Child, Supervisor, port_is_free

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "data" / "online_retail_subset.csv.gz"
STAFF_USERNAME = "admin"
STAFF_PASSWORD = "admin"
WORKER_QUEUES = "celery,cart_recommender_training"


class Command(BaseCommand):
    help = ("Set up and run the demo shop: migrate, load the data, staff login, first model, "
            "Celery worker and web server.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", default=str(DEFAULT_DATA),
                            help="behaviour-events CSV to load when the catalog is empty "
                                 "(default: the shipped subset)")
        parser.add_argument("--reload-data", action="store_true",
                            help="import the data file even if the catalog has products "
                                 "(rows already stored are skipped)")
        parser.add_argument("--no-train", action="store_true", help="do not train the first model")
        parser.add_argument("--no-serve", action="store_true",
                            help="set up (and train), then exit without starting the worker and web server")
        parser.add_argument("--addr", default="127.0.0.1:8000",
                            help="where the web server listens (127.0.0.1:8000)")
        parser.add_argument("--baselines-only", action="store_true",
                            help="train only the baselines for the first model (fast, no Keras)")

    def handle(self, *args: Any, **options: Any) -> None:
        host, _, port = options["addr"].rpartition(":")
        if not host or not port.isdigit():
            raise CommandError("--addr must look like 127.0.0.1:8000")
        if not options["no_serve"] and not port_is_free(host, int(port)):
            raise CommandError(
                f"{options['addr']} is in use: stop what runs there or pass --addr 127.0.0.1:8001")

        self.step("Migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        self.load_data(Path(options["data"]), force=options["reload_data"])
        login = self.ensure_staff_user()
        train_argv = None if options["no_train"] else self.train_argv(options["baselines_only"])

        if options["no_serve"]:
            if train_argv:
                self.step("Training the first model")
                supervisor = self.supervisor()
                child = supervisor.start("training", train_argv)
                try:
                    rc = child.proc.wait()
                except KeyboardInterrupt:
                    supervisor.stop_all()
                    raise CommandError("training interrupted") from None
                if rc:
                    raise CommandError(f"training failed (exit status {rc}); see its output above")
            self.stdout.write(self.style.SUCCESS(f"Ready. Staff login: {login}"))
            return
        self.serve(options["addr"], login, train_argv)

    # -- steps ---------------------------------------------------------------------------------
    def step(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {text}"))
        self.stdout.flush()  # keep our lines in order with the children's output

    def load_data(self, path: Path, force: bool) -> None:
        existing = Product.objects.count()
        if existing and not force:
            self.step(f"Demo data already loaded ({existing:,} products): skipping")
            return
        if "cart_recommender_import" not in get_commands():
            self.stdout.write(self.style.WARNING("cart_recommender_import is not available: no data loaded"))
            return
        if not path.is_file():
            raise CommandError(f"{path}: no such data file")
        self.step(f"Loading {path.name} (catalog and purchase history; takes a minute)")
        call_command("cart_recommender_import", str(path), "--create-products",
                     no_progress=not sys.stderr.isatty())
        self.stdout.write(f"    {Product.objects.count():,} products in the catalog")

    def ensure_staff_user(self) -> str:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=STAFF_USERNAME,
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"},
        )
        if created:
            user.set_password(STAFF_PASSWORD)
            user.save()
            self.step(f"Created the staff user {STAFF_USERNAME} / {STAFF_PASSWORD}")
        if user.check_password(STAFF_PASSWORD):
            return f"{STAFF_USERNAME} / {STAFF_PASSWORD}"
        return f"{STAFF_USERNAME} (password changed since it was created)"

    def train_argv(self, baselines_only: bool) -> list[str] | None:
        """The training command to run, or None when a model exists or training is unavailable."""
        if "cart_recommender_train" not in get_commands():
            self.stdout.write(self.style.WARNING(
                "cart_recommender_train is not available: skipping the first model "
                "(bundles use the fallbacks)"))
            return None
        usable = ModelVersion.objects.filter(
            status__in=[ModelVersion.Status.ACTIVE, ModelVersion.Status.READY]
        )
        if usable.exists():
            self.step(f"A trained model exists ({usable.first()}): not training")
            return None
        if not Product.objects.exists():
            self.stdout.write(self.style.WARNING("No data to train on: skipping the first model"))
            return None
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "cart_recommender_train",
                "--activate", "always"]
        if baselines_only:
            argv.append("--baselines-only")
        return argv

    def supervisor(self) -> Supervisor:
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "demo_shop.settings")
        env.setdefault("OMP_NUM_THREADS", "2")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONUNBUFFERED"] = "1"
        return Supervisor(cwd=Path(settings.BASE_DIR), env=env)

    # -- serving -------------------------------------------------------------------------------
    def serve(self, addr: str, login: str, train_argv: list[str] | None) -> None:
        supervisor = self.supervisor()
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        # SIGTERM (say from `kill` or a container stop) shuts down like Ctrl-C
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            worker = supervisor.start("worker", [
                sys.executable, "-m", "celery", "-A", "demo_shop", "worker", "--pool", "prefork",
                "--concurrency", "1", "--max-tasks-per-child", "1", "-Q", WORKER_QUEUES,
                "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--hostname", "demo@%h",
            ])
            # --insecure: the development server serves the static files with DEBUG off too
            web = supervisor.start(
                "web", [sys.executable, manage, "runserver", addr, "--noreload", "--insecure"])
            if train_argv:
                training = supervisor.start("training", train_argv, essential=False)
                self.step(f"Training the first model in the background (pid {training.pid}); "
                          "the shop works meanwhile")
            self.stdout.write(self.style.SUCCESS(
                f"\n    Retrospot Gifts is running: http://{addr}/\n"
                f"    Staff admin:  http://{addr}/admin/  (login {login})\n"
                f"    Celery worker pid {worker.pid}, web server pid {web.pid}. Press Ctrl-C to stop.\n"
            ))
            self.stdout.flush()
            stopped = supervisor.wait_for_exit(on_exit=self.report_training)
            raise CommandError(
                f"the {stopped.name} process exited (status {stopped.proc.returncode}); stopping the demo")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the web server and the worker ...")
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
            try:
                supervisor.stop_all()
            finally:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, previous)
        self.stdout.write("Stopped.")

    def report_training(self, child: Child) -> None:
        if child.proc.returncode == 0:
            self.stdout.write(self.style.SUCCESS(
                "The first model is trained; reload a cart page to see its bundles."))
        else:
            self.stdout.write(self.style.ERROR(
                f"Training the first model failed (status {child.proc.returncode}); "
                "retry from the admin (Model versions > Retrain now)."))


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
