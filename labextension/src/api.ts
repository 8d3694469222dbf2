// Calls to the server extension (/safetrain/api/...), with the server's token and XSRF.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'safetrain/api', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  if (!response.ok) {
    let message = response.statusText;
    try {
      const body = await response.json();
      message = body.message || message;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, message);
  }
  return response;
}

export async function getJSON<T>(path: string, init: RequestInit = {}): Promise<T> {
  return (await call(path, init)).json() as Promise<T>;
}

export async function getBlob(path: string): Promise<Blob> {
  return (await call(path)).blob();
}

export interface Scope {
  code: string;
  name: string;
  path: string;
  level: string;
  level_label: string;
  source: string;
}

export interface WhoAmI {
  login: string;
  name: string | null;
  trainee: boolean;
  admin: boolean;
  as_of: string;
  scopes: Scope[];
}

export interface RoleStatus {
  role: string;
  role_label: string;
  unit_code: string;
  unit_path: string;
  since: string;
  status: string;
  status_label: string;
  reasons: string[];
  certificate: string | null;
  valid_until: string | null;
  deadline: string | null;
  days_to_deadline: number | null;
  modules_missing: string[];
  hours_required: number;
  hours_short: number;
  drills_required: number;
  drills_short: number;
}

export interface ModuleStatus {
  id: string;
  title: string;
  pass_mark: number;
  estimated_minutes: number;
  required: boolean;
  status: 'not_started' | 'submitted' | 'passed' | 'failed';
  status_label: string;
  attempts: number;
  best_percent: number | null;
  best_score: number | null;
  max_score: number | null;
  last_graded: string | null;
  submitted_at: string | null;
  counts: boolean;
  attempts_used?: number;
  attempts_allowed?: number;
  attempts_left?: number;
  next_attempt_at?: string | null;
}

export interface TraineeStatus {
  hub?: boolean; // served by the hub's records service: 获取 / 检查作答 / 提交 in the panel
  login: string;
  name: string;
  masked_id: string;
  as_of: string;
  window_start: string;
  roles: RoleStatus[];
  modules: ModuleStatus[];
  hours: number;
  hours_this_year: number;
  hours_required: number;
  sessions: { code: string; title: string; held_on: string; kind: string; status: string; hours: number }[];
  drills: number;
  drills_required: number;
  drill_list: { code: string; title: string; held_on: string; drill_type: string; role: string; status: string }[];
}

export interface UnitInfo {
  code: string;
  name: string;
  path: string;
  level: string;
  level_label: string;
}

export interface UnitDetail extends UnitInfo {
  trail: UnitInfo[];
  children: UnitInfo[];
}

export interface Chart {
  labels: string[]; // one per row: the unit's name
  values: string[]; // columns drawn as bars (percent when `percent`)
  percent: boolean;
}

export interface Section {
  key: string;
  title: string;
  note?: string;
  columns: string[];
  rows: (string | number | null)[][];
  unit_column?: string; // column holding unit codes: rows can be drilled into
  chart?: Chart;
}

export interface Coverage {
  unit: UnitInfo;
  period: string; // 2026-11, as `safetrain report --period` reads it
  title: string;
  sections: Section[];
}
