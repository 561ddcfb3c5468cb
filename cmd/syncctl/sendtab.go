package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/fxa"
)

func newSendTabCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send-tab URL",
		Short: "Send a tab to your other devices (Firefox Accounts Send Tab, end to end encrypted)",
		Long: `Send a tab to the account's other devices the way Firefox does: as a Firefox Accounts
device command, encrypted to each device's own keys. --to names a device (its name or
id); without it the tab goes to every other device that can receive tabs. Needs a
Firefox Accounts login (syncctl login --fxa).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			acct, err := a.account(ctx)
			if err != nil {
				return err
			}
			defer acct.close()
			if acct.fxa == nil {
				return withCode(exitUsage, errors.New("send-tab needs a Firefox Accounts login: run `syncctl login --fxa EMAIL`"))
			}
			client := &fxa.Client{Env: fxa.Environment{AuthURL: acct.fxa.AuthURL, ClientID: acct.fxa.ClientID}}
			devices, err := client.Devices(ctx, acct.fxa.Credentials)
			if err != nil {
				return err
			}
			to := a.v.GetString("to")
			var names []string
			var chosen []fxa.Device
			for _, d := range devices {
				_, canReceive := d.AvailableCommands[fxa.CommandOpenURI]
				if d.IsCurrentDevice || !canReceive {
					continue
				}
				names = append(names, d.Name)
				if to == "" || d.Name == to || d.ID == to {
					chosen = append(chosen, d)
				}
			}
			if len(chosen) == 0 {
				if to == "" {
					return errors.New("no other device of this account can receive tabs")
				}
				return withCode(exitUsage, fmt.Errorf("no device %q that can receive tabs (have: %s)", to, strings.Join(names, ", ")))
			}
			title := a.v.GetString("title")
			if title == "" {
				title = args[0]
			}
			type sent struct {
				Device string `json:"device"`
				ID     string `json:"id"`
			}
			out := []sent{}
			for _, d := range chosen {
				if err := client.SendTab(ctx, acct.fxa.Credentials, acct.syncKey, d, title, args[0]); err != nil {
					return fmt.Errorf("sending to %s: %w", d.Name, err)
				}
				out = append(out, sent{d.Name, d.ID})
			}
			l := a.list(cmd, "SENT TO", "DEVICE ID")
			for _, s := range out {
				l.Add(s, s.Device, s.ID)
			}
			return l.Close()
		},
	}
	cmd.Flags().String("to", "", "the device to send to (name or id; default: every other device)")
	cmd.Flags().String("title", "", "the tab's title (default: the URL)")
	return cmd
}
