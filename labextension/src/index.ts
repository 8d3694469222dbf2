// SafeTrain in JupyterLab: 我的培训 for trainees, 培训覆盖 for administrators and leaders.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ApiError, getJSON, WhoAmI } from './api';
import { CoveragePanel } from './coverage';
import { I18n } from './i18n';
import { MyTrainingPanel } from './training';

const MY = 'safetrain:my-training';
const COVERAGE = 'safetrain:coverage';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'safetrain:plugin',
  description: 'SafeTrain trainee and administrator panels',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const i18n = new I18n(translator);
    let current: WhoAmI;
    try {
      current = await getJSON<WhoAmI>('whoami');
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 503) {
        console.warn('SafeTrain: the server extension did not answer', err);
        return;
      }
      // Installed but not ready (database not initialised...): 我的培训 shows the reason.
      current = { login: '', name: null, trainee: true, admin: false, as_of: '', scopes: [] };
    }
    const open = (widget: Widget) => {
      const existing = Array.from(app.shell.widgets('main')).find(w => w.id === widget.id);
      if (existing) {
        app.shell.activateById(existing.id);
        widget.dispose();
        return;
      }
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };
    const openNotebook = async (path: string) => {
      await app.commands.execute('docmanager:open', { path });
    };
    // 提交 hands in what is on disk: an open, changed copy of the notebook is saved first.
    const saveNotebook = async (path: string) => {
      for (const widget of Array.from(app.shell.widgets('main'))) {
        const context = (widget as unknown as { context?: { path: string; model: { dirty: boolean }; save(): Promise<void> } }).context;
        if (context && context.path === path && context.model.dirty) {
          await context.save();
        }
      }
    };
    app.commands.addCommand(MY, {
      label: i18n.t('我的培训'),
      caption: i18n.t('我的培训'),
      // Shown unless the login is only an administrator: someone not (yet) found in the
      // roster sees the panel say why and how to start JupyterLab with their login.
      isVisible: () => current.trainee || !current.admin,
      execute: () => open(new MyTrainingPanel(i18n, openNotebook, saveNotebook))
    });
    app.commands.addCommand(COVERAGE, {
      label: i18n.t('培训覆盖'),
      caption: i18n.t('培训覆盖'),
      isVisible: () => current.admin,
      execute: () => open(new CoveragePanel(i18n, current))
    });
    const category = i18n.t('SafeTrain 培训');
    if (current.trainee || !current.admin) {
      launcher?.add({ command: MY, category, rank: 1 });
      palette?.addItem({ command: MY, category });
    }
    if (current.admin) {
      launcher?.add({ command: COVERAGE, category, rank: 2 });
      palette?.addItem({ command: COVERAGE, category });
    }
  }
};

export default plugin;
