"""Every `st.session_state` key of the app, declared once: NAME = "<page>.<name>".

Widget keys count too (a keyed widget's value lives in session state under its key, and a
keyed container gets the CSS class `st-key-<key>`, dots turned into dashes). Modules use them
as `from ui import state as keys` and `keys.TRAIN_START`; keys made per item (a button per
saved curve, a Train control per TrainConfig field) come from the small functions below, each
built on its page's prefix. `tests/app/test_state_keys.py` keeps this the only place.
"""

from __future__ import annotations

# Shared by every page (the "app." keys).
APP_AUTHENTICATED = "app.authenticated"  # the session gave the demo password
APP_PASSWORD_SESSION = "app.password_session"  # this session's name in the wrong-password count
APP_CURRENT_PAGE = "app.current_page"  # the page this run draws (`navigate`); unset: never through app.py
APP_DATA_SPEC = "app.data_spec"  # "auto", "sample", "mnist" or a folder path
APP_SPLIT = "app.split_settings"  # {"val_fraction": float, "split_seed": int}
APP_TARGET_ACCURACY = "app.target_accuracy"  # set on "Define the task", shown on "Evaluate"
APP_FLASH = "app.flash"  # {page title: (level, text)} shown once on that page's next run
APP_PRESENT = "app.present"  # presenter mode on/off (the sidebar toggle)
APP_PRESENT_URL_READ = "app.present_url_read"  # ?present=1 has been read for this session
APP_JOBS_SHOWN = "app.jobs_shown"  # {follow key: id of the finished job already redrawn}
APP_JOB_OWNER = "app.job_owner"  # this session's token on the job queue (never shown)
APP_NICKNAME = "app.nickname"  # the name this session gives itself on shared jobs and runs

# `ui.follow_job` keys: which live view of a job a page draws (entries of APP_JOBS_SHOWN).
TRAIN_FOLLOW = "train.follow"
PLAN_FOLLOW = "plan.follow"
PLAN_LIVE = "plan.live"  # the running measurement's container (browser tests look inside it)
TUNE_FOLLOW = "tune.follow"
DEPLOY_FOLLOW = "deploy.follow"
DEMO_FOLLOW = "demo.follow"
EVALUATE_FOLLOW_TSNE = "evaluate.follow_tsne"
EVALUATE_FOLLOW_SWEEP = "evaluate.follow_sweep"
EVALUATE_FOLLOW_SWEEP_OTHER = "evaluate.follow_sweep_other"
DEPLOY_FOLLOW_MONITOR = "deploy.follow_monitor"

# Home.
HOME_DEMO = "home.demo"  # the "Start the 3-minute demo" button

# Demo: the six steps in three minutes.
DEMO_STEP = "demo.step"  # the step shown, 0-based
DEMO_RUN_ID = "demo.run_id"  # the run the demo trained or picked
DEMO_JOB_ID = "demo.job_id"  # the training job this demo started
DEMO_BACK = "demo.back"
DEMO_NEXT = "demo.next"
DEMO_TRAIN = "demo.train"
DEMO_STOP = "demo.stop"
DEMO_USE_LATEST = "demo.use_latest"  # "use the latest saved run" when the demo has none
DEMO_REPORT = "demo.report"  # the report download

# Define the task.
DEFINE_SAMPLE_INDEX = "define.sample_index"  # the example image shown
DEFINE_TARGET_PCT = "define.target_pct"  # the target widget, in percent (APP_TARGET_ACCURACY is the fraction)

# Data.
DATA_FOLDER = "data.folder"  # the folder path typed in
DATA_GRID_SEED = "data.grid_seed"  # bumped by "Other examples"
DATA_DIGIT = "data.digit"  # the digit of the example grid

# Preprocess.
PREPROCESS_IMAGE_INDEX = "preprocess.image_index"
PREPROCESS_VAL_FRACTION = "preprocess.val_fraction"
PREPROCESS_SPLIT_SEED = "preprocess.split_seed"

# Labels: the audit job, the audit under review, the suspect grid and its decisions.
LABELS_FOLDS = "labels.folds"  # K of the audit's K-fold cross-validation
LABELS_DRAWINGS = "labels.drawings"  # audit the labelled Deploy drawings too
LABELS_START = "labels.start"
LABELS_STOP = "labels.stop"
LABELS_FOLLOW = "labels.follow"
LABELS_AUDIT = "labels.audit"  # the id of the audit under review
LABELS_ADOPTED_JOB = "labels.adopted_job"  # the finished audit job whose audit this session picked
LABELS_TOP_N = "labels.top_n"  # how many suspects "accept the suggestion" takes
LABELS_ACCEPT = "labels.accept"
LABELS_PAGE = "labels.page"  # the page of the suspect grid shown
LABELS_DECISION_PREFIX = "labels.decision_"  # + audit, source, index: one suspect's decision box
LABELS_CARD_PREFIX = "labels.card_"  # + rank: one suspect's card (class st-key-labels-card_<rank>)


def labels_decision(audit_id: str, source: str, index: int) -> str:
    """The decision box of one suspect of one audit."""
    return f"{LABELS_DECISION_PREFIX}{audit_id}_{source}_{index}"


def labels_card(rank: int) -> str:
    """The card of the suspect ranked `rank` (1 = most suspect)."""
    return f"{LABELS_CARD_PREFIX}{rank}"


# Train: one control per TrainConfig field (`train_control`), plus these.
TRAIN_PREFIX = "train."
TRAIN_PRESET = "train.preset"
TRAIN_RUN_NAME = "train.run_name"
TRAIN_USE_DRAWINGS = "train.use_drawings"  # add the drawings collected on Deploy to the training set
TRAIN_RESET_PRESET = "train.reset_preset"
TRAIN_START = "train.start"
TRAIN_STOP = "train.stop"
TRAIN_LADDER = "train.ladder"  # "train the model ladder"
TRAIN_LIVE = "train.live"  # the live view's container (browser tests look inside it)
TRAIN_LOAD_RUN = "train.load_run"
TRAIN_RUNS_MINE = "train.runs_mine"  # the run history shows only this session's runs
TRAIN_DELETE = "train.delete"
TRAIN_CONFIRM = "train.confirm"  # "Yes, delete"
TRAIN_CANCEL = "train.cancel"
TRAIN_CONFIRM_DELETE = "train.confirm_delete"  # the run ids waiting for "Yes, delete"
TRAIN_RUNS_PREFIX = "train.runs_"  # + a digest of the listed run ids
TRAIN_APPLY_PREFIX = "train.apply_"  # + where the diagnosis comes from
TRAIN_REVIEWED_LABELS = "train.reviewed_labels"  # train on the labels reviewed on the Labels page


def train_control(field: str) -> str:
    """The Train page control of a TrainConfig field (or "preset", "run_name"…)."""
    return TRAIN_PREFIX + field


def train_runs_table(digest: str) -> str:
    """The run history table; a new key per set of runs, so a selection never points at shifted rows."""
    return TRAIN_RUNS_PREFIX + digest


def train_apply(source: str) -> str:
    """The "Try this" button of a diagnosis (`source`: "job_<id>_<i>" or "run_<id>")."""
    return TRAIN_APPLY_PREFIX + source


# Evaluate: the run, its confusion matrix and the sections below it.
EVALUATE_RUN = "evaluate.run"  # the run under evaluation
EVALUATE_CM_TRUE = "evaluate.cm_true"  # the selected confusion cell: true digit
EVALUATE_CM_PRED = "evaluate.cm_pred"  # ... and predicted digit
EVALUATE_CM_NORM = "evaluate.cm_norm"  # row percentages in the heatmap
EVALUATE_CM_CHART = "evaluate.cm_chart"  # the heatmap's click selection
EVALUATE_CM_RUN = "evaluate.cm_run"  # the run whose top confusion the cell was set to
EVALUATE_CM_CLICK = "evaluate.cm_click"  # the last heatmap click already applied
EVALUATE_OTHER = "evaluate.other"  # the second run of the comparison
EVALUATE_MISTAKES = "evaluate.n_mistakes"  # how many confident mistakes to show
EVALUATE_TEST_UNLOCK = "evaluate.test_unlock"
EVALUATE_TEST_AGAIN = "evaluate.test_again"
EVALUATE_REPORT = "evaluate.report_download"

# Evaluate, "Inspect": the tabs, the embedding map, confidence and robustness.
EVALUATE_INSPECT = "evaluate.inspect"  # which of the three tabs is open
EVALUATE_MAP_METHOD = "evaluate.map_method"  # "PCA" or "t-SNE"
EVALUATE_MAP = "evaluate.map"  # the map's interval selection
EVALUATE_TSNE_START = "evaluate.tsne_start"
EVALUATE_TSNE_STOP = "evaluate.tsne_stop"
EVALUATE_THRESHOLD = "evaluate.threshold"  # the coverage slider
EVALUATE_THRESHOLD_RUN = "evaluate.threshold_run"  # the run the slider was set for
EVALUATE_THRESHOLD_SUGGEST = "evaluate.threshold_suggest"
EVALUATE_THRESHOLD_SAVE = "evaluate.threshold_save"
EVALUATE_THRESHOLD_CLEAR = "evaluate.threshold_clear"
EVALUATE_FIT_TEMPERATURE = "evaluate.fit_temperature"
EVALUATE_ROBUST_OTHER = "evaluate.robust_other"  # the second run on the robustness chart
EVALUATE_SWEEP_START = "evaluate.sweep_start"
EVALUATE_SWEEP_AGAIN = "evaluate.sweep_again"
EVALUATE_SWEEP_STOP = "evaluate.sweep_stop"
EVALUATE_SWEEP_OTHER = "evaluate.sweep_other"  # measure the second run

# Deploy: the model, the tabs, the downloads.
DEPLOY_RUN = "deploy.run"
DEPLOY_TAB = "deploy.tab"
DEPLOY_QUICK_TRAIN = "deploy.quick_train"
DEPLOY_BUILD_ONNX = "deploy.build_onnx"
DEPLOY_ONNX_BUILT = "deploy.onnx_built"  # ids of the runs whose ONNX file this session asked for
DEPLOY_DL_WEIGHTS = "deploy.dl_weights"
DEPLOY_DL_CONFIG = "deploy.dl_config"
DEPLOY_DL_ONNX = "deploy.dl_onnx"

# Deploy, "Draw & predict": the input, the answer, the labels given.
DEPLOY_MODE = "deploy.mode"  # draw or upload
DEPLOY_PEN = "deploy.pen"
DEPLOY_CANVAS = "deploy.canvas"  # the st_canvas (its toolbar clears it; the key never changes)
DEPLOY_UPLOAD = "deploy.upload"
DEPLOY_UPLOAD_WATCH = "deploy.upload_watch"  # the watcher of files the uploader refused
DEPLOY_REFUSED = "deploy.refused"  # (refused files shown last run, id of the file they made stale)
DEPLOY_LAST_INPUT = "deploy.last_input28"  # the last prepared input, 28×28 uint8 (the Evaluate map's star)
DEPLOY_BARS = "deploy.bars"
DEPLOY_SAVED = "deploy.saved"  # {fingerprint of an input: (entry id, label)} stored this session
DEPLOY_UNDO = "deploy.undo"
DEPLOY_LATER = "deploy.later"  # save the drawing without a label, for the labelling queue
DEPLOY_QUEUE_PREFIX = "deploy.queue_"  # + drawing id + digit: the labelling queue's one-click buttons

# Deploy, "Monitor": is the field like the training data?
DEPLOY_MONITOR_WINDOW = "deploy.monitor_window"  # by day or by N drawings
DEPLOY_MONITOR_START = "deploy.monitor_start"
DEPLOY_MONITOR_STOP = "deploy.monitor_stop"
DEPLOY_CORRECT = "deploy.correct"
DEPLOY_LABEL_PREFIX = "deploy.label_"  # + the digit of the "it is a …" button


def deploy_label(digit: int) -> str:
    return f"{DEPLOY_LABEL_PREFIX}{digit}"


# Deploy, "Why did it say that?" (the explain expander).
DEPLOY_EXPLAIN = "deploy.explain"  # the expander
DEPLOY_EXPLAIN_TAB = "deploy.explain_tab"  # its tabs
DEPLOY_EXPLAIN_DIGIT = "deploy.explain_digit"  # the digit to explain
DEPLOY_EXPLAIN_OVERLAY = "deploy.explain_overlay"  # the overlay's container (for browser tests)
DEPLOY_EXPLAIN_OPEN = "deploy.explain_open"  # the expander's last state (it survives a blank canvas)
DEPLOY_EXPLAIN_TAB_SHOWN = "deploy.explain_tab_shown"  # the tab last shown
DEPLOY_EXPLAIN_DIGIT_FOR = "deploy.explain_digit_for"  # fingerprint of the drawing the picked digit is for

# Deploy, "Collected data".
DEPLOY_DL_IDX = "deploy.dl_idx"
DEPLOY_DL_NPZ = "deploy.dl_npz"
DEPLOY_GAP_MODEL = "deploy.gap_model"
DEPLOY_GRID_FILTER = "deploy.grid_filter"
DEPLOY_DELETE_PREFIX = "deploy.delete_"  # + a drawing's id


def deploy_delete(drawing_id: int | str) -> str:
    return f"{DEPLOY_DELETE_PREFIX}{drawing_id}"


# Plan: the learning curve, the estimate, the saved curves.
PLAN_CONFIG = "plan.config"
PLAN_SIZES = "plan.sizes"
PLAN_SEEDS = "plan.seeds"
PLAN_NAME = "plan.name"
PLAN_STRATEGIES = "plan.strategies"  # the labelling strategies to measure, in STRATEGIES order
PLAN_ADOPTED = "plan.adopted_job"  # the finished job whose saved curve this session already showed
PLAN_CURVE = "plan.curve"  # id of the curve shown (None: the newest saved)
PLAN_ESTIMATE = "plan.estimate"  # the latest answer: {curve_id, size, low, high, target, …}
PLAN_MEASURE = "plan.measure"
PLAN_STOP = "plan.stop"
PLAN_BIGGER_MODEL = "plan.bigger_model"  # "Open Train with a bigger model"
PLAN_SHOW_PREFIX = "plan.show_"  # + a saved curve's id
PLAN_DELETE_PREFIX = "plan.delete_"  # + a saved curve's id


def plan_show(curve_id: str) -> str:
    return PLAN_SHOW_PREFIX + curve_id


def plan_delete(curve_id: str) -> str:
    return PLAN_DELETE_PREFIX + curve_id


# Plan, the labelling cost calculator.
PLAN_COST_SAMPLES = "plan.cost_samples"  # "Images to label"
PLAN_COST_SECONDS = "plan.cost_seconds"
PLAN_COST_POC = "plan.cost_poc"
PLAN_COST_ANNOTATORS = "plan.cost_annotators"
PLAN_COST_HOURS = "plan.cost_hours"
PLAN_COST_WAGE = "plan.cost_wage"
PLAN_COST_PRICE = "plan.cost_price"
PLAN_COST_REVIEW = "plan.cost_review"
PLAN_COST_REVIEW_S = "plan.cost_review_s"
PLAN_COST_REST = "plan.cost_plan_rest"  # count only the images the Plan estimate still needs
PLAN_COST_USE_PLAN = "plan.cost_use_plan"
PLAN_COST_STRATEGY = "plan.cost_plan_strategy"  # which strategy's Plan estimate, when Plan compared several

# Tune: the search space (per model family, `tune_param`), the study and its storage.
TUNE_PREFIX = "tune."
TUNE_MODEL = "tune.model"
TUNE_STUDY = "tune.study"
TUNE_OBJECTIVE = "tune.objective"
TUNE_STORAGE = "tune.storage"
TUNE_TRIALS = "tune.trials"
TUNE_MINUTES = "tune.minutes"
TUNE_MAX_TRAIN = "tune.max_train"
TUNE_PRUNER = "tune.pruner"
TUNE_SHOWN = "tune.shown"  # the study drawn
TUNE_FLASH_AT = "tune.flash_at"  # where the next message shows
TUNE_REFRESH = "tune.refresh"  # bumped to re-read the storage
TUNE_REFRESH_BUTTON = "tune.refresh_button"
TUNE_START = "tune.start"
TUNE_STOP = "tune.stop"
TUNE_USE_BEST = "tune.use_best"
TUNE_SAVE_BEST = "tune.save_best"
TUNE_SHOW_PREFIX = "tune.show_"  # + a study's name
TUNE_MORE_PREFIX = "tune.more_"  # + a study's name
TUNE_DELETE_PREFIX = "tune.delete_"  # + a study's name


def tune_param(model: str, name: str, part: str = "range") -> str:
    """A search widget, per model family: each keeps its own space for the session, and
    nothing needs resetting when the family changes (a select_slider's range cannot be set
    from code without fighting its `value`)."""
    return f"{TUNE_PREFIX}{model}.{name}.{part}"


def tune_epochs(model: str) -> str:
    return f"{TUNE_PREFIX}{model}.epochs"


def tune_show(study: str) -> str:
    return TUNE_SHOW_PREFIX + study


def tune_more(study: str) -> str:
    return TUNE_MORE_PREFIX + study


def tune_delete(study: str) -> str:
    return TUNE_DELETE_PREFIX + study


def deploy_queue(drawing_id: int, digit: int) -> str:
    return f"{DEPLOY_QUEUE_PREFIX}{drawing_id}_{digit}"
