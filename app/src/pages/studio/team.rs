//! `/studio/team`: the owner's team page (members and their roles, one-time invite links,
//! the audit log), and `/studio/join/{token}`, where a co-worker accepts an invite.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::{
    api::{
        studio::current_host,
        team::{
            studio_audit_log, studio_invite, studio_team, team_invite_info, team_join,
            StudioRemoveMember, StudioRevokeInvite, StudioSetRole,
        },
    },
    components::{browser::origin, on_outcome, time::LocalTime, ErrorNotice, Loading},
    domain::team::Role,
    i18n::{t, tf, K},
    model::{AuditEntry, HostMe, NewInvite},
    pages::studio::StudioBar,
};

/// A role's name in the page's language.
pub fn role_name(role: Role) -> String {
    t(match role {
        Role::Owner => K::studio_role_owner,
        Role::Producer => K::studio_role_producer,
        Role::Moderator => K::studio_role_moderator,
        Role::Analyst => K::studio_role_analyst,
    })
}

const INVITABLE: [Role; 3] = [Role::Producer, Role::Moderator, Role::Analyst];

#[component]
pub fn StudioTeamPage() -> impl IntoView {
    let me = LocalResource::new(current_host);
    view! {
        <div class="studio">
            <Transition fallback=|| view! { <Loading label=t(K::studio_home_loading)/> }>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(h)) => view! { <StudioBar host=Some(h.clone())/><TeamPanels me=h/> }.into_any(),
                        Ok(None) => view! { <StudioBar host={None::<HostMe>}/><p class="notice"><a href="/studio">{t(K::studio_session_sign_in_link)}</a></p> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e on_retry=Callback::new(move |_| me.refetch())/> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn TeamPanels(me: HostMe) -> impl IntoView {
    let invite = Action::new_local(|(role, note): &(Role, String)| {
        studio_invite(role.as_str().to_string(), note.clone())
    });
    let revoke = ServerAction::<StudioRevokeInvite>::new();
    let set_role = ServerAction::<StudioSetRole>::new();
    let remove = ServerAction::<StudioRemoveMember>::new();
    let team = LocalResource::new(move || {
        invite.version().track();
        revoke.version().track();
        set_role.version().track();
        remove.version().track();
        studio_team()
    });
    let error = RwSignal::new(None::<String>);
    let link = RwSignal::new(None::<NewInvite>);
    on_outcome(invite, move |res| match res {
        Ok(n) => {
            link.set(Some(n));
            error.set(None);
        }
        Err(e) => error.set(Some(e.to_string())),
    });
    // A change that fails says why; one that works clears the last error.
    on_outcome(revoke, move |res| {
        error.set(res.err().map(|e| e.to_string()))
    });
    on_outcome(remove, move |res| {
        error.set(res.err().map(|e| e.to_string()))
    });
    on_outcome(set_role, move |res| {
        error.set(res.err().map(|e| e.to_string()))
    });
    let new_role = RwSignal::new(Role::Moderator);
    let note = RwSignal::new(String::new());
    let my_account = me.email.clone();
    view! {
        <div class="studio-main team">
            <h1>{t(K::studio_team_title)}</h1>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <section class="card" aria-labelledby="team-invite-title">
                <h2 id="team-invite-title">{t(K::studio_team_invite_title)}</h2>
                <p class="muted small">{t(K::studio_team_invite_hint)}</p>
                <form class="row" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    invite.dispatch((new_role.get_untracked(), note.get_untracked()));
                }>
                    <label class="field"><span>{t(K::studio_team_role)}</span>
                        <select name="role" on:change=move |ev| {
                            if let Some(r) = Role::parse(&event_target_value(&ev)) { new_role.set(r) }
                        }>
                            {INVITABLE.into_iter().map(|r| view! {
                                <option value=r.as_str() selected=move || new_role.get() == r>{role_name(r)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label class="field"><span>{t(K::studio_team_note)}</span>
                        <input type="text" name="note" maxlength="60" prop:value=move || note.get()
                            on:input=move |ev| note.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" class="btn btn-primary" disabled=move || invite.pending().get()>{t(K::studio_team_make_link)}</button>
                </form>
                {move || link.get().map(|n| {
                    let url = format!("{}{}", origin(), n.path);
                    view! {
                        <p class="ok" role="status">{tf(K::studio_team_link_made, &[("role", &role_name(n.invite.role))])}</p>
                        <input class="invite-link" type="text" readonly=true aria-label=t(K::studio_team_invite_link) prop:value=url.clone()/>
                    }
                })}
            </section>
            <section class="card" aria-labelledby="team-members-title">
                <h2 id="team-members-title">{t(K::studio_team_members)}</h2>
                {move || team.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(v) => {
                        let my_account = my_account.clone();
                        view! {
                            <ul class="team-members">
                                {v.members.into_iter().map(|m| {
                                    let id = m.account_id;
                                    let is_owner = m.role == Role::Owner;
                                    let label = format!("{} ({})", m.display_name, m.email);
                                    view! {
                                        <li>
                                            <span class="member">{m.display_name.clone()}<span class="muted small">" "{m.email.clone()}</span></span>
                                            {if is_owner || m.email == my_account {
                                                view! { <span class="badge">{role_name(m.role)}</span> }.into_any()
                                            } else {
                                                let label2 = label.clone();
                                                view! {
                                                    <select aria-label=tf(K::studio_team_role_of, &[("name", &label)]) on:change=move |ev| {
                                                        set_role.dispatch(StudioSetRole { account_id: id, role: event_target_value(&ev) });
                                                    }>
                                                        {INVITABLE.into_iter().map(|r| view! {
                                                            <option value=r.as_str() selected=m.role == r>{role_name(r)}</option>
                                                        }).collect_view()}
                                                    </select>
                                                    <button type="button" class="btn btn-small" aria-label=tf(K::studio_team_remove_who, &[("name", &label2)])
                                                        on:click=move |_| { remove.dispatch(StudioRemoveMember { account_id: id }); }>{t(K::studio_team_remove)}</button>
                                                }.into_any()
                                            }}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <h3>{t(K::studio_team_open_invites)}</h3>
                            {v.invites.is_empty().then(|| view! { <p class="muted">{t(K::studio_team_no_invites)}</p> })}
                            <ul class="team-invites">
                                {v.invites.into_iter().map(|i| {
                                    let id = i.id.clone();
                                    view! {
                                        <li>
                                            <span class="badge">{role_name(i.role)}</span>" "{i.note.clone()}
                                            <span class="muted small">" "{t(K::studio_team_expires)}" "<LocalTime ms=i.expires_at_ms/></span>
                                            <button type="button" class="btn btn-small" on:click=move |_| { revoke.dispatch(StudioRevokeInvite { id: id.clone() }); }>{t(K::studio_team_revoke)}</button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                })}
            </section>
            <AuditLog/>
        </div>
    }
}

/// The audit log, newest first; "Older" reads the page before the last line shown.
#[component]
fn AuditLog() -> impl IntoView {
    let lines = RwSignal::new(Vec::<AuditEntry>::new());
    let done = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let more = Action::new_local(move |before: &Option<i64>| {
        let page = studio_audit_log(*before);
        async move {
            match page.await {
                Ok(p) => {
                    done.set(p.len() < 100);
                    lines.update(|l| l.extend(p));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    more.dispatch(None);
    view! {
        <section class="card" aria-labelledby="audit-title">
            <h2 id="audit-title">{t(K::studio_audit_title)}</h2>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <table class="audit-log">
                <thead><tr><th scope="col">{t(K::studio_audit_when)}</th><th scope="col">{t(K::studio_audit_who)}</th><th scope="col">{t(K::studio_audit_what)}</th></tr></thead>
                <tbody>
                    <For each=move || lines.get() key=|l| l.id let:l>
                        <tr>
                            <td><LocalTime ms=l.at_ms/></td>
                            <td>{if l.actor.is_empty() { "—".to_string() } else { l.actor.clone() }}</td>
                            <td><code>{l.action.clone()}</code>" "{l.detail.clone()}{(!l.reason.is_empty()).then(|| format!(" ({})", l.reason))}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
            <Show when=move || !done.get()>
                <button type="button" class="btn btn-small" on:click=move |_| {
                    let before = lines.with_untracked(|l| l.last().map(|e| e.id));
                    more.dispatch(before);
                }>{t(K::studio_audit_older)}</button>
            </Show>
        </section>
    }
}

/// `/studio/join/{token}`: what the invite offers, and a form for the new account.
#[component]
pub fn JoinTeamPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = LocalResource::new(move || team_invite_info(token()));
    let (name, email, password) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let join = Action::new_local(move |_: &()| {
        let call = team_join(
            token(),
            name.get_untracked(),
            email.get_untracked(),
            password.get_untracked(),
        );
        let navigate = navigate.clone();
        async move {
            match call.await {
                Ok(_) => navigate("/studio", Default::default()),
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    view! {
        <div class="studio">
            <StudioBar host={None::<HostMe>}/>
            <div class="studio-main">
                <Transition fallback=|| view! { <Loading label=t(K::studio_home_loading)/> }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(i) => view! {
                                <section class="auth card" aria-labelledby="join-title">
                                    <h1 id="join-title">{tf(K::studio_join_title, &[("shop", &i.shop_name), ("role", &role_name(i.role))])}</h1>
                                    <p class="muted small">{t(K::studio_join_hint)}</p>
                                    <form class="stack" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); error.set(None); join.dispatch(()); }>
                                        <label class="field"><span>{t(K::studio_auth_display_name)}</span>
                                            <input type="text" name="display_name" required maxlength="40" autocomplete="nickname"
                                                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                                        </label>
                                        <label class="field"><span>{t(K::studio_auth_email)}</span>
                                            <input type="email" name="email" required autocomplete="email"
                                                prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
                                        </label>
                                        <label class="field"><span>{t(K::studio_auth_password)}</span>
                                            <input type="password" name="password" required minlength="10" autocomplete="new-password"
                                                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                                        </label>
                                        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                                        <button type="submit" class="btn btn-primary" disabled=move || join.pending().get()>{t(K::studio_join_accept)}</button>
                                    </form>
                                </section>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </div>
    }
}
